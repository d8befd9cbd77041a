// SwiftPM needs one source file in a C target. The declarations come from the umbrella header
// (include/kohakuvaultFFI/kohakuvaultFFI.h, which includes uniffi's generated header); the symbols
// come from libkohakuvault (linked by Package.swift).
#include "kohakuvaultFFI/kohakuvaultFFI.h"
