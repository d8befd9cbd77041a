package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.ColumnFastPath
import io.kohakuvault.internal.KEEP_LIMIT
import io.kohakuvault.internal.MAX_BATCH_BYTES
import java.nio.ByteBuffer
import java.nio.ByteOrder

/*
 * Argument buffers of the column calls: one direct buffer per batch, filled once and handed to the core as views
 * whose position is 0 (the generated code passes a view's base address and its remaining()). Up to KEEP_LIMIT the
 * thread's Arena is reused; larger batches get a one-off native block (malloc, not zeroed) freed after the call.
 */

/** One direct little-endian buffer of exactly [size] bytes, valid until [release]. */
internal class ColumnArgs private constructor(val buf: ByteBuffer, private val mem: com.sun.jna.Memory?) {
    /** A view of bytes `[from, to)` (position 0), for one argument. */
    fun view(from: Int, to: Int): ByteBuffer {
        val d = buf.duplicate()
        d.limit(to).position(from)
        return d.slice().order(ByteOrder.LITTLE_ENDIAN)
    }

    /** Views of the consecutive regions `[0, ends[0])`, `[ends[0], ends[1])`, ..., one per argument of a batch call. */
    fun views(vararg ends: Long): Array<ByteBuffer> {
        var from = 0
        return Array(ends.size) { i ->
            val to = ends[i].toInt()
            view(from, to).also { from = to }
        }
    }

    fun release() {
        mem?.close()
    }

    companion object {
        fun of(size: Long): ColumnArgs {
            if (size > MAX_BATCH_BYTES) throw KohakuVaultException.InvalidArgument("batch exceeds 2 GiB")
            val n = size.toInt()
            if (n <= KEEP_LIMIT) {
                val d = Arena.get(n).buffer.duplicate()
                d.position(0).limit(n)
                return ColumnArgs(d.slice().order(ByteOrder.LITTLE_ENDIAN), null)
            }
            val mem = com.sun.jna.Memory(size)
            ColumnFastPath.advise(mem)
            return ColumnArgs(mem.getByteBuffer(0, size).order(ByteOrder.LITTLE_ENDIAN), mem)
        }
    }
}

/** Runs [block] with a [ColumnArgs] of [size] bytes, released afterwards. */
internal inline fun <R> withArgs(size: Long, block: (ColumnArgs) -> R): R {
    val a = ColumnArgs.of(size)
    try {
        return block(a)
    } finally {
        a.release()
    }
}

/** IEEE 754 half precision <-> float (round to nearest even), for `f16` columns. */
internal object Half {
    fun toFloat(h: Short): Float {
        val bits = h.toInt() and 0xFFFF
        val sign = (bits and 0x8000) shl 16
        val exp = (bits ushr 10) and 0x1F
        val mant = bits and 0x3FF
        val f = when (exp) {
            0 -> {
                if (mant == 0) return Float.fromBits(sign)
                // subnormal: mant * 2^-24
                val v = mant * (1.0f / (1 shl 24))
                return if (sign != 0) -v else v
            }
            0x1F -> sign or 0x7F80_0000 or (mant shl 13)
            else -> sign or ((exp + 112) shl 23) or (mant shl 13)
        }
        return Float.fromBits(f)
    }

    fun fromFloat(v: Float): Short {
        val x = v.toRawBits()
        val sign = (x ushr 16) and 0x8000
        val exp = (x ushr 23) and 0xFF
        var mant = x and 0x7F_FFFF
        if (exp == 0xFF) return (sign or 0x7C00 or (if (mant != 0) 0x200 or (mant ushr 13) else 0)).toShort()
        val e = exp - 127 + 15
        if (e >= 0x1F) return (sign or 0x7C00).toShort()           // overflow: infinity
        if (e <= 0) {
            if (e < -10) return sign.toShort()                       // underflow: signed zero
            mant = mant or 0x80_0000
            val shift = 14 - e
            var h = mant ushr shift
            val rem = mant and ((1 shl shift) - 1)
            val half = 1 shl (shift - 1)
            if (rem > half || (rem == half && (h and 1) != 0)) h++
            return (sign or h).toShort()
        }
        var h = (e shl 10) or (mant ushr 13)
        val rem = mant and 0x1FFF
        if (rem > 0x1000 || (rem == 0x1000 && (h and 1) != 0)) h++   // may carry into the exponent: still right
        return (sign or h).toShort()
    }
}
