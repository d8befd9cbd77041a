package io.kohakuvault

import io.kohakuvault.internal.Arena
import io.kohakuvault.internal.FastPath
import java.io.InputStream
import java.io.OutputStream
import java.nio.ByteBuffer
import java.nio.channels.Channels

/*
 * Streaming a value in and out (KvStore.put_stream / get_stream) in chunks.
 */

/**
 * Streams [size] bytes of [input] into [key]. If [input] ends early, what it held is written and the core's
 * `finish()` reports the short write (InvalidArgument) and publishes nothing, so the old value stays.
 */
internal fun VaultCore.putStream(key: ByteArray, input: InputStream, size: Long, chunkSize: Int) {
    if (size < 0) throw KohakuVaultException.InvalidArgument("size must not be negative")
    if (chunkSize <= 0) throw KohakuVaultException.InvalidArgument("chunkSize must be positive")
    val ps = read { it.putStream(Arena.one(key), size.toULong()) }
    try {
        val ch = Channels.newChannel(input)
        val buf = ByteBuffer.allocateDirect(minOf(chunkSize.toLong(), maxOf(size, 1L)).toInt())
        var left = size
        var eof = false
        while (left > 0 && !eof) {
            buf.clear()
            if (left < buf.capacity()) buf.limit(left.toInt())
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) { eof = true; break }
            }
            val n = buf.position()
            if (n == 0) break
            buf.flip()
            vaultCall { ps.write(buf) }
            left -= n
        }
        vaultCall { ps.finish() }
    } catch (t: Throwable) {
        try { ps.abort() } catch (_: Throwable) { }
        throw t
    } finally {
        ps.destroy()
    }
}

/** Streams the stored bytes of [key] to [output]; returns the number of bytes written. */
internal fun VaultCore.getStream(key: ByteArray, output: OutputStream, chunkSize: Int): Long {
    if (chunkSize <= 0) throw KohakuVaultException.InvalidArgument("chunkSize must be positive")
    val gs = read { it.getStream(Arena.one(key)) }
    try {
        val fh = if (chunkSize <= FastPath.MAX_FAST) vaultCall { gs.fastHandle() }.toLong() else 0L
        var total = 0L
        while (true) {
            val chunk = FastPath.streamRead(fh, chunkSize) ?: vaultCall { gs.read(chunkSize.toUInt()) }
            if (chunk.isEmpty()) break
            output.write(chunk)
            total += chunk.size
        }
        return total
    } finally {
        try { gs.closeStream() } catch (_: Throwable) { }
        gs.destroy()
    }
}
