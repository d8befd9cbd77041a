#!/usr/bin/env bash
# Builds KohakuVault for Android: the Rust core for arm64-v8a and x86_64 with cargo-ndk and NDK r28 or newer, linked
# for 16 KB pages (-Wl,-z,max-page-size=16384, checked with readelf: every LOAD segment of every .so has
# p_align 0x4000), and an AAR holding the Kotlin facade.
#
#   scripts/build-android.sh [out-dir]          (default: build/android)
#   scripts/build-android.sh --package-only [out-dir]
#                                               only checks and packages out-dir/jniLibs/<abi>/libkohakuvault.so built
#                                               earlier (no NDK needed)
#
# Needs (checked first; nothing is downloaded):
#   ANDROID_NDK_HOME (or ANDROID_NDK_ROOT)   an NDK r28+ (source.properties Pkg.Revision >= 28)
#   cargo-ndk                                 cargo install cargo-ndk
#   rust targets                              rustup target add aarch64-linux-android x86_64-linux-android
#   readelf (binutils), zip, a JDK + Maven    (the classes come from kotlin/pom.xml)
# Environment: ANDROID_API (default 24, the lowest the facade supports), ABIS (default "arm64-v8a x86_64").
#
# Output in out-dir:
#   jniLibs/<abi>/libkohakuvault.so   ready for a Gradle module's src/main/jniLibs
#   aar/                              the AAR's layout: AndroidManifest.xml, classes.jar, jni/<abi>/libkohakuvault.so,
#                                     R.txt (the AAR format keeps native libraries under jni/, not jniLibs/)
#   kohakuvault-<version>.aar         aar/ zipped
# An app using the AAR also needs JNA's Android build: implementation("net.java.dev.jna:jna:5.17.0@aar") and
# kotlin-stdlib (and kotlinx-coroutines / kotlinx-serialization-json for those optional packages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
package_only=0
if [ "${1:-}" = --package-only ]; then package_only=1; shift; fi
out=${1:-$root/build/android}
mkdir -p "$out" && out=$(cd "$out" && pwd)
api=${ANDROID_API:-24}
abis=${ABIS:-"arm64-v8a x86_64"}
min_ndk=28

triple_of() {
  case "$1" in
    arm64-v8a) echo aarch64-linux-android ;;
    x86_64) echo x86_64-linux-android ;;
    armeabi-v7a) echo armv7-linux-androideabi ;;
    x86) echo i686-linux-android ;;
    *) echo "build-android.sh: unknown ABI $1" >&2; exit 2 ;;
  esac
}

# ---- 1. check everything before building anything --------------------------------------------------------------
missing=()
ndk=${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}
if [ "$package_only" = 1 ]; then
  :
elif [ -z "$ndk" ]; then
  missing+=("ANDROID_NDK_HOME is not set (point it at an Android NDK r${min_ndk} or newer; ANDROID_NDK_ROOT works too)")
elif [ ! -f "$ndk/source.properties" ]; then
  missing+=("ANDROID_NDK_HOME=$ndk is not an NDK (no source.properties)")
else
  rev=$(sed -n 's/^Pkg.Revision *= *//p' "$ndk/source.properties" | tr -d '[:space:]')
  major=${rev%%.*}
  if ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt "$min_ndk" ]; then
    missing+=("NDK at $ndk is revision ${rev:-unknown}; r${min_ndk} or newer is needed (16 KB page alignment)")
  fi
fi
if [ "$package_only" = 1 ]; then
  for abi in $abis; do
    [ -f "$out/jniLibs/$abi/libkohakuvault.so" ] || missing+=("$out/jniLibs/$abi/libkohakuvault.so (--package-only)")
  done
elif ! command -v cargo >/dev/null 2>&1; then
  missing+=("cargo (Rust) is not installed")
elif ! cargo ndk --version >/dev/null 2>&1; then
  missing+=("cargo-ndk is not installed (cargo install cargo-ndk)")
fi
if [ "$package_only" = 1 ]; then
  :
elif command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed 2>/dev/null || true)
  for abi in $abis; do
    t=$(triple_of "$abi")
    grep -qx "$t" <<<"$installed" || missing+=("rust target $t is not installed (rustup target add $t)")
  done
else
  missing+=("rustup is not installed (needed for the rust targets: $(for a in $abis; do triple_of "$a"; done | tr '\n' ' '))")
fi
command -v readelf >/dev/null 2>&1 || missing+=("readelf is not installed (apt-get install binutils)")
command -v zip >/dev/null 2>&1 || missing+=("zip is not installed (apt-get install zip)")
command -v mvn >/dev/null 2>&1 || missing+=("Maven is not installed (scripts/test-kotlin.sh installs a JDK and Maven)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-android.sh: cannot build for Android, missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi

# ---- 2. the core for each ABI, 16 KB pages ----------------------------------------------------------------------
if [ "$package_only" = 0 ]; then
rm -rf "$out/jniLibs" "$out/aar" "$out"/*.aar
mkdir -p "$out/jniLibs"
export ANDROID_NDK_HOME="$ndk"
targs=()
for abi in $abis; do
  t=$(triple_of "$abi")
  var="CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
  export "$var"="${!var:-} -C link-arg=-Wl,-z,max-page-size=16384"
  targs+=(-t "$abi")
done
echo "build-android.sh: cargo ndk ${targs[*]} --platform $api build --release --lib" >&2
(cd "$root" && cargo ndk "${targs[@]}" --platform "$api" -o "$out/jniLibs" build --release --lib)
fi

# ---- 3. check the page alignment of every library -----------------------------------------------------------------
bad=0
for abi in $abis; do
  so="$out/jniLibs/$abi/libkohakuvault.so"
  [ -f "$so" ] || { echo "build-android.sh: $so was not produced" >&2; exit 1; }
  aligns=$(readelf -lW "$so" | awk '$1 == "LOAD" { print $NF }')
  for a in $aligns; do
    if [ "$a" != "0x4000" ]; then
      echo "build-android.sh: $abi/libkohakuvault.so has a LOAD segment aligned to $a, not 0x4000" >&2
      bad=1
    fi
  done
  echo "build-android.sh: $abi/libkohakuvault.so LOAD p_align: $(echo $aligns)" >&2
done
[ "$bad" = 0 ] || exit 1

# ---- 4. the AAR ---------------------------------------------------------------------------------------------------
echo "build-android.sh: building the Kotlin classes (mvn -DskipTests package)" >&2
(cd "$root" && mvn -B -ntp -q -Dstyle.color=never -f kotlin/pom.xml -DskipTests package)
version=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$root/kotlin/pom.xml" | head -1)
jar="$root/kotlin/target/kohakuvault-$version.jar"
[ -f "$jar" ] || { echo "build-android.sh: $jar missing" >&2; exit 1; }

aar="$out/aar"
rm -rf "$aar" "$out/kohakuvault-$version.aar"
mkdir -p "$aar/jni"
cp "$jar" "$aar/classes.jar"
# the host's desktop library has no place on Android
zip -q -d "$aar/classes.jar" 'linux-*' 'darwin-*' 'win32-*' >/dev/null 2>&1 || true
for abi in $abis; do
  mkdir -p "$aar/jni/$abi"
  cp "$out/jniLibs/$abi/libkohakuvault.so" "$aar/jni/$abi/"
done
cat > "$aar/AndroidManifest.xml" <<MANIFEST
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="io.kohakuvault">
    <uses-sdk android:minSdkVersion="$api" />
</manifest>
MANIFEST
: > "$aar/R.txt"
(cd "$aar" && zip -q -r "$out/kohakuvault-$version.aar" AndroidManifest.xml classes.jar R.txt jni)
echo "build-android.sh: wrote $out/kohakuvault-$version.aar" >&2
