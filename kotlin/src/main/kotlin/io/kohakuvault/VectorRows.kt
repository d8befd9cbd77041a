package io.kohakuvault

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Vectors as a vault of [type] and [dimensions] takes them ([VectorKVault], a [TextVault] with dimensions): an f32
 * vault takes `FloatArray`s of [dimensions] floats, int8 and bit vaults `ByteArray`s of [rowBytes] bytes; and the
 * rows (little-endian, docs/FORMAT.md §7.1) they cross the FFI as.
 */
internal class VectorRows(val type: VectorType, val dimensions: Int, val rowBytes: Int) {

    /** Checks [v]'s array type and length against the vault's type and dimensions. */
    fun check(v: Any) {
        when (v) {
            is FloatArray -> {
                if (type != VectorType.F32) {
                    throw KohakuVaultException.InvalidArgument("this vault stores ${type.coreName} vectors: pass a ByteArray, not a FloatArray")
                }
                if (v.size != dimensions) {
                    throw KohakuVaultException.InvalidArgument("Expected a vector of $dimensions dimensions, got ${v.size}")
                }
            }
            is ByteArray -> {
                if (type == VectorType.F32) {
                    throw KohakuVaultException.InvalidArgument("this vault stores f32 vectors: pass a FloatArray, not a ByteArray")
                }
                if (v.size != rowBytes) {
                    val what = if (type == VectorType.BIT) "$rowBytes bytes ($dimensions bits)" else "$dimensions dimensions"
                    throw KohakuVaultException.InvalidArgument("Expected a vector of $what, got ${v.size} bytes")
                }
            }
            else -> throw KohakuVaultException.InvalidArgument("a vector is a FloatArray or a ByteArray, not ${v.javaClass.name}")
        }
    }

    /** Writes a checked vector at [b]'s position (advancing it) and returns a view of it (position 0). */
    fun put(b: ByteBuffer, v: Any): ByteBuffer {
        val start = b.position()
        when (v) {
            is FloatArray -> {
                b.asFloatBuffer().put(v)
                b.position(start + 4 * v.size)
            }
            is ByteArray -> b.put(v)
        }
        val d = b.duplicate()
        d.limit(b.position()).position(start)
        return d.slice()
    }

    /** A checked vector as its row bytes. */
    fun rowOf(v: Any): ByteArray = when (v) {
        is FloatArray -> ByteBuffer.allocate(4 * v.size).order(ByteOrder.LITTLE_ENDIAN).also { it.asFloatBuffer().put(v) }.array()
        else -> v as ByteArray
    }

    /** A stored row as the vault's vector type: a `FloatArray` (f32) or the bytes (int8, bit). */
    fun vectorOf(row: ByteArray): Any =
        if (type == VectorType.F32) {
            val fb = le(row).asFloatBuffer()
            FloatArray(fb.remaining()).also { fb.get(it) }
        } else {
            row
        }
}
