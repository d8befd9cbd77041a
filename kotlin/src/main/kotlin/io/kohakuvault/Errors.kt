package io.kohakuvault

import io.kohakuvault.uniffi.InternalException
import io.kohakuvault.uniffi.VaultException

/**
 * Every error the Kotlin facade raises. One subclass per variant of the core's `VaultError`
 * (udl/kohakuvault.udl); the generated `VaultException` is kept as the [cause].
 *
 * Unchecked (a [RuntimeException]) so that the `MutableMap` members can raise it.
 */
sealed class KohakuVaultException(val reason: String, cause: Throwable? = null) :
    RuntimeException(reason, cause) {

    /** A key or object that must exist does not. */
    class NotFound(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** The database (or the write-back cache, while locked) is busy. */
    class Busy(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** A bad argument: table name, sizes, a value of the wrong type for a typed accessor, ... */
    class InvalidArgument(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** A write on a read-only handle. */
    class ReadOnly(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** Use of a closed vault or stream. */
    class Closed(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** Stored bytes or a file that cannot be read (bad header, newer schema version, ...). */
    class Corrupt(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    class DiskFull(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    class Io(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** A value whose encoding Kotlin cannot decode (pickle), or a kind the accessor cannot convert. */
    class UnsupportedEncoding(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** The operation was interrupted ([KVault.interrupt]). */
    class Interrupted(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    /** A bug or an unexpected state in the core (including a Rust panic). */
    class Internal(reason: String, cause: Throwable? = null) : KohakuVaultException(reason, cause)

    companion object {
        /** Maps a generated exception (or the uniffi runtime's own) to the facade hierarchy. */
        @JvmStatic
        fun from(e: Throwable): KohakuVaultException = when (e) {
            is KohakuVaultException -> e
            is VaultException.NotFound -> NotFound(e.reason, e)
            is VaultException.Busy -> Busy(e.reason, e)
            is VaultException.InvalidArgument -> InvalidArgument(e.reason, e)
            is VaultException.ReadOnly -> ReadOnly(e.reason, e)
            is VaultException.Closed -> Closed(e.reason, e)
            is VaultException.Corrupt -> Corrupt(e.reason, e)
            is VaultException.DiskFull -> DiskFull(e.reason, e)
            is VaultException.Io -> Io(e.reason, e)
            is VaultException.UnsupportedEncoding -> UnsupportedEncoding(e.reason, e)
            is VaultException.Interrupted -> Interrupted(e.reason, e)
            is VaultException.Internal -> Internal(e.reason, e)
            is InternalException -> Internal(e.message ?: "internal error", e)
            // The generated objects raise this once destroyed (after close()).
            is IllegalStateException ->
                if (e.message?.contains("destroyed") == true) Closed(CLOSED_MESSAGE, e)
                else Internal(e.message ?: e.toString(), e)
            else -> Internal(e.message ?: e.toString(), e)
        }
    }
}

/** Runs [block], translating generated exceptions into [KohakuVaultException]s. */
@PublishedApi
internal inline fun <T> vaultCall(block: () -> T): T =
    try {
        block()
    } catch (e: VaultException) {
        throw KohakuVaultException.from(e)
    } catch (e: InternalException) {
        throw KohakuVaultException.from(e)
    } catch (e: IllegalStateException) {
        throw KohakuVaultException.from(e)
    }
