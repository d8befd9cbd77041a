package io.kohakuvault.internal

import java.lang.ref.PhantomReference
import java.lang.ref.ReferenceQueue
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean

/**
 * Runs an action once its owner is unreachable, or earlier through [Cleanable.clean] (what `java.lang.ref.Cleaner`
 * does; that class exists on Android only from API 33, this one works on every JVM and Android API 24+).
 * One daemon thread waits on the reference queue. The action must not reference the owner.
 */
internal object VaultCleaner {
    private val queue = ReferenceQueue<Any>()
    private val live: MutableSet<Cleanable> = ConcurrentHashMap.newKeySet()

    class Cleanable internal constructor(owner: Any, private val action: Runnable) :
        PhantomReference<Any>(owner, queue) {
        private val done = AtomicBoolean(false)

        /** Runs the action now (at most once in total) and forgets the owner. */
        fun clean() {
            if (!done.compareAndSet(false, true)) return
            live.remove(this)
            clear()
            action.run()
        }
    }

    init {
        val t = Thread({
            while (true) {
                try {
                    (queue.remove() as? Cleanable)?.clean()
                } catch (_: InterruptedException) {
                } catch (_: Throwable) {
                    // an action's failure must not stop the thread
                }
            }
        }, "kohakuvault-cleaner")
        t.isDaemon = true
        t.start()
    }

    fun register(owner: Any, action: Runnable): Cleanable = Cleanable(owner, action).also { live.add(it) }
}
