package io.kohakuvault.serialization

import io.kohakuvault.Codec
import io.kohakuvault.KVault
import io.kohakuvault.Kind
import io.kohakuvault.KohakuVaultException
import io.kohakuvault.TaggedValue
import io.kohakuvault.ValueWriter
import kotlinx.serialization.DeserializationStrategy
import kotlinx.serialization.SerializationException
import kotlinx.serialization.SerializationStrategy
import kotlinx.serialization.json.Json
import kotlinx.serialization.serializer

/*
 * `@Serializable` classes as vault values (optional: needs org.jetbrains.kotlinx:kotlinx-serialization-json and the
 * kotlinx-serialization compiler plugin). A value is serialized to JSON by kotlinx-serialization and converted to
 * MessagePack by the Rust core (`transcode(3, 4, ...)`), then stored as kind 4: Python reads it as a dict, Swift and
 * Kotlin's getPlain as a map. Reading converts msgpack (or cbor, or json) back to JSON in the core
 * (`transcode(4, 3, ...)`) and decodes it with kotlinx-serialization. A value that does not fit the class is
 * InvalidArgument.
 */

/** [value] as the (kind 4, msgpack) value [putSerializable] stores. */
@Throws(KohakuVaultException::class)
fun <T> serializableValue(serializer: SerializationStrategy<T>, value: T, json: Json = Json): TaggedValue {
    val text = try {
        json.encodeToString(serializer, value)
    } catch (e: SerializationException) {
        throw KohakuVaultException.InvalidArgument("cannot serialize ${value?.let { it::class.simpleName }}: ${e.message}", e)
    }
    return TaggedValue.msgpack(Codec.transcode(Kind.JSON, Kind.MSGPACK, text.encodeToByteArray()))
}

/** A msgpack / cbor / json value decoded as [deserializer]'s class. */
@Throws(KohakuVaultException::class)
fun <T> TaggedValue.decodeAs(deserializer: DeserializationStrategy<T>, json: Json = Json): T {
    val text = when (kind) {
        Kind.JSON -> payload.decodeToString()
        Kind.MSGPACK, Kind.CBOR -> Codec.transcode(kind, Kind.JSON, payload).decodeToString()
        Kind.PICKLE -> throw KohakuVaultException.UnsupportedEncoding("pickle values can only be decoded in Python")
        else -> throw KohakuVaultException.InvalidArgument("value is ${Kind.name(kind)}, not a structured value")
    }
    return try {
        json.decodeFromString(deserializer, text)
    } catch (e: SerializationException) {
        throw KohakuVaultException.InvalidArgument("stored value does not fit ${deserializer.descriptor.serialName}: ${e.message}", e)
    } catch (e: IllegalArgumentException) {
        throw KohakuVaultException.InvalidArgument("stored value does not fit ${deserializer.descriptor.serialName}: ${e.message}", e)
    }
}

/** Stores [value] of a `@Serializable` class as MessagePack (kind 4). Works in [KVault.batch] too. */
@Throws(KohakuVaultException::class)
fun <T> ValueWriter.putSerializable(key: String, serializer: SerializationStrategy<T>, value: T, json: Json = Json) =
    putValue(key, serializableValue(serializer, value, json))

@Throws(KohakuVaultException::class)
inline fun <reified T> ValueWriter.putSerializable(key: String, value: T, json: Json = Json) =
    putSerializable(key, json.serializersModule.serializer<T>(), value, json)

/** The value of [key] decoded as [deserializer]'s class, or null when missing. */
@Throws(KohakuVaultException::class)
fun <T> KVault.getSerializable(key: String, deserializer: DeserializationStrategy<T>, json: Json = Json): T? =
    getTagged(key)?.decodeAs(deserializer, json)

@Throws(KohakuVaultException::class)
inline fun <reified T> KVault.getSerializable(key: String, json: Json = Json): T? =
    getSerializable(key, json.serializersModule.serializer<T>(), json)
