//! Python objects a container holds for a Python facade (docs/FORMAT.md §9.5).
//!
//! A facade's values must stay Python objects, and a container stores u64 handles. A
//! [`Slots`] table owns one reference per held object and names it by a handle
//! `generation << 32 | (index + 1)`: the container stores the handle, entry points read handles
//! without the GIL and turn them back into objects with it. A slot's generation changes every
//! time it is freed, so a handle read before its entry left (another thread removed it, and
//! its slot may hold another object by now) no longer matches: [`Slots::get`] gives None
//! instead of a freed or foreign object.
//!
//! Every method must be called with the GIL held (the objects are only touched then). The
//! table's own lock guards the Rust data; it is never held while Python code can run: methods
//! give back references and the caller releases them (a release may run any `__del__`, which
//! may call back into the table). A table dropped while holding objects leaks them (they can
//! only be released with the GIL): the facade empties it with [`Slots::drain`] first.
//!
//! Each slot also keeps two *parts* of its object ([`Held`]): borrowed objects the held one
//! keeps alive (for a tuple, its items), so a read of a part touches the slot only, not the
//! object (a range read in key order visits objects in random memory order).
//!
//! Nothing here knows any vault.

use parking_lot::Mutex;

use super::pyobj::PyObj;
use crate::fastpath::prefetch;

/// How many handles ahead [`Slots::get_each`] fetches the objects (the slots: twice as far).
const AHEAD: usize = 8;

/// Which object of each held entry a reader of many goes on to read.
#[derive(Clone, Copy, Debug)]
pub enum Touch {
    /// The held object.
    Obj,
    /// One of its parts.
    Part(usize),
}

/// Generations use 31 bits, so every handle is a positive i63 (what containers accept).
const GEN_MASK: u32 = 0x7FFF_FFFF;

#[derive(Clone, Copy)]
struct Slot {
    /// The held object (`PyObject*`), 0 when the slot is free.
    obj: usize,
    /// Its parts (borrowed `PyObject*`s it keeps alive).
    parts: [usize; 2],
    generation: u32,
}

/// A held object and two borrowed objects it keeps alive for as long as it lives (for an
/// immutable tuple, its items): the caller vouches for that when holding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub obj: PyObj,
    pub parts: [PyObj; 2],
}

impl Held {
    /// The object `touch` names (null for a part it does not have).
    pub fn pick(&self, touch: Touch) -> PyObj {
        match touch {
            Touch::Obj => self.obj,
            Touch::Part(p) => self.parts.get(p).copied().unwrap_or(std::ptr::null_mut()),
        }
    }
}

impl Slot {
    /// Whether the slot holds an object named by handles of `generation`.
    fn named(&self, generation: u32) -> bool {
        self.obj != 0 && self.generation == generation
    }

    fn held(&self) -> Held {
        Held {
            obj: self.obj as PyObj,
            parts: self.parts.map(|p| p as PyObj),
        }
    }

    fn set(&mut self, held: Held) {
        self.obj = held.obj as usize;
        self.parts = held.parts.map(|p| p as usize);
    }
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

/// The held objects of one container (see the module documentation).
#[derive(Default)]
pub struct Slots {
    table: Mutex<Table>,
}

fn split(h: u64) -> Option<(usize, u32)> {
    let index = (h as u32).checked_sub(1)? as usize;
    Some((index, (h >> 32) as u32))
}

impl Table {
    fn hold(&mut self, held: Held) -> u64 {
        let index = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot {
                    obj: 0,
                    parts: [0; 2],
                    generation: 1,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        slot.set(held);
        self.live += 1;
        (u64::from(slot.generation) << 32) | (index as u64 + 1)
    }

    fn slot(&mut self, h: u64) -> Option<&mut Slot> {
        let (index, generation) = split(h)?;
        let slot = self.slots.get_mut(index)?;
        slot.named(generation).then_some(slot)
    }

    fn take(&mut self, h: u64) -> Option<PyObj> {
        let index = split(h)?.0;
        let slot = self.slot(h)?;
        let obj = slot.obj as PyObj;
        slot.obj = 0;
        slot.parts = [0; 2];
        slot.generation = (slot.generation % GEN_MASK) + 1;
        self.free.push(index as u32);
        self.live -= 1;
        Some(obj)
    }
}

impl Slots {
    /// Holds `held.obj` (a new reference, taken over) and returns its handle.
    ///
    /// # Safety
    /// The GIL must be held; `held.obj` must be a live object, not null, that keeps its parts
    /// alive while it lives.
    pub unsafe fn hold(&self, held: Held) -> u64 {
        self.table.lock().hold(held)
    }

    /// Holds every object of `objs` (new references, taken over), pushing their handles.
    ///
    /// # Safety
    /// As [`Slots::hold`], for each object.
    pub unsafe fn hold_all(&self, objs: &[Held], out: &mut Vec<u64>) {
        let mut t = self.table.lock();
        out.extend(objs.iter().map(|&o| t.hold(o)));
    }

    /// The object `h` names and its parts (borrowed: valid while the GIL stays held and no
    /// Python code runs), or None when `h` names no held object.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn get(&self, h: u64) -> Option<Held> {
        self.table.lock().slot(h).map(|s| s.held())
    }

    /// [`Slots::get`] for many handles under one lock: `f(i, object or None)` for each. The
    /// slots, and the object `touch` names in each, are fetched into the cache ahead of `f`,
    /// so the misses of handles in another order than the table's overlap.
    ///
    /// # Safety
    /// The GIL must be held; `f` must not run Python code (no allocation, no release).
    pub unsafe fn get_each(
        &self,
        handles: &[u64],
        touch: Touch,
        mut f: impl FnMut(usize, Option<Held>),
    ) {
        let mut t = self.table.lock();
        let index = |h: u64| split(h).map(|(index, _)| index);
        for (i, &h) in handles.iter().enumerate() {
            if let Some(s) = handles
                .get(i + 2 * AHEAD)
                .and_then(|&a| t.slots.get(index(a)?))
            {
                prefetch(s);
            }
            if let Some(s) = handles.get(i + AHEAD).and_then(|&a| t.slots.get(index(a)?)) {
                prefetch(s.held().pick(touch));
            }
            f(i, t.slot(h).map(|s| s.held()));
        }
    }

    /// [`Slots::get_each`] visiting the slots in table order instead of `handles` order: for
    /// many handles read in another order (a container's key order), the table, and objects
    /// allocated in the order they were held, are then read in memory order.
    ///
    /// # Safety
    /// As [`Slots::get_each`].
    pub unsafe fn get_each_in_table_order(
        &self,
        handles: &[u64],
        mut f: impl FnMut(usize, Option<Held>),
    ) {
        let mut t = self.table.lock();
        // Where each slot's first handle is (the slots themselves are read in the second pass).
        let mut at = vec![u32::MAX; t.slots.len()];
        for (i, &h) in handles.iter().enumerate() {
            match split(h).map(|(index, _)| index).filter(|&x| x < at.len()) {
                Some(index) if at[index] == u32::MAX => at[index] = i as u32,
                Some(_) => f(i, t.slot(h).map(|s| s.held())), // again
                None => f(i, None),
            }
        }
        for (index, &i) in at.iter().enumerate().filter(|(_, &i)| i != u32::MAX) {
            // The slot is read by its index (in table order, not through its handle's load).
            let slot = &t.slots[index];
            let named = split(handles[i as usize]).is_some_and(|(_, g)| slot.named(g));
            f(i as usize, named.then(|| slot.held()));
        }
    }

    /// Frees `h`'s slot and gives its reference to the caller, or None when `h` names no
    /// held object.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn take(&self, h: u64) -> Option<PyObj> {
        self.table.lock().take(h)
    }

    /// [`Slots::take`] for many handles under one lock (0 and stale handles give None).
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn take_all(&self, handles: &[u64]) -> Vec<Option<PyObj>> {
        let mut t = self.table.lock();
        handles.iter().map(|&h| t.take(h)).collect()
    }

    /// Puts `held.obj` (a new reference, taken over) into `h`'s slot and gives the caller the
    /// reference it held; the handle stays valid. When `h` names no held object nothing
    /// changes and `held.obj` comes back as `Err`.
    ///
    /// # Safety
    /// As [`Slots::hold`].
    pub unsafe fn replace(&self, h: u64, held: Held) -> Result<PyObj, PyObj> {
        match self.table.lock().slot(h) {
            Some(slot) => {
                let old = slot.obj as PyObj;
                slot.set(held);
                Ok(old)
            }
            None => Err(held.obj),
        }
    }

    /// How many objects are held.
    pub fn len(&self) -> usize {
        self.table.lock().live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees every slot, giving the caller every reference held.
    ///
    /// # Safety
    /// The GIL must be held.
    pub unsafe fn drain(&self) -> Vec<PyObj> {
        let mut t = self.table.lock();
        let mut out = Vec::with_capacity(t.live);
        for index in 0..t.slots.len() {
            let slot = t.slots[index];
            if slot.obj != 0 {
                let h = (u64::from(slot.generation) << 32) | (index as u64 + 1);
                out.extend(t.take(h));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(n: usize) -> PyObj {
        n as PyObj // never dereferenced here
    }

    fn held(n: usize) -> Held {
        Held {
            obj: obj(n),
            parts: [obj(n + 1), obj(n + 2)],
        }
    }

    /// Handles name their object until freed; a freed slot's old handle stays stale after the
    /// slot is reused, and `replace` keeps the handle.
    #[test]
    fn stale_handles_never_name_another_object() {
        let s = Slots::default();
        unsafe {
            let a = s.hold(held(8));
            let b = s.hold(held(16));
            assert!(a != b && a > 0 && a <= i64::MAX as u64);
            assert_eq!(s.get(a), Some(held(8)));
            assert_eq!(s.take(a), Some(obj(8)));
            assert_eq!(s.get(a), None);
            assert_eq!(s.take(a), None);
            let c = s.hold(held(24)); // reuses a's slot with a new generation
            assert_ne!(c, a);
            assert_eq!(c as u32, a as u32);
            assert_eq!(s.get(a), None);
            assert_eq!(s.get(c), Some(held(24)));
            assert_eq!(s.replace(c, held(32)), Ok(obj(24)));
            assert_eq!(s.get(c), Some(held(32)));
            assert_eq!(s.replace(a, held(40)), Err(obj(40)));
            assert_eq!(s.get(0), None);
            assert_eq!(s.len(), 2);
            let mut all = s.drain();
            all.sort();
            assert_eq!(all, vec![obj(16), obj(32)]);
            assert!(s.is_empty() && s.get(b).is_none() && s.get(c).is_none());
        }
    }

    /// Reading in table order gives each handle's object at its own position, stale and
    /// repeated handles included.
    #[test]
    fn table_order_reads_match_handle_order_reads() {
        let s = Slots::default();
        unsafe {
            let hs: Vec<u64> = (1..=6).map(|n| s.hold(held(n * 8))).collect();
            s.take(hs[2]);
            let handles = vec![hs[5], hs[0], hs[2], 0, hs[4], hs[0], hs[2] + (1 << 32)];
            let mut a = vec![None; handles.len()];
            let mut b = vec![None; handles.len()];
            s.get_each(&handles, Touch::Obj, |i, h| a[i] = Some(h));
            s.get_each_in_table_order(&handles, |i, h| b[i] = Some(h));
            assert_eq!(a, b);
            assert_eq!(b[0], Some(Some(held(48))));
            assert_eq!(b[5], Some(Some(held(8))));
            assert!(b[2] == Some(None) && b[3] == Some(None) && b[6] == Some(None));
            s.drain();
        }
    }

    /// Generations wrap within 31 bits, so handles stay positive i63 values.
    #[test]
    fn generations_wrap_within_31_bits() {
        let s = Slots::default();
        s.table.lock().slots.push(Slot {
            obj: 0,
            parts: [0; 2],
            generation: GEN_MASK,
        });
        s.table.lock().free.push(0);
        unsafe {
            let h = s.hold(held(8));
            assert_eq!(h >> 32, u64::from(GEN_MASK));
            s.take(h);
            let h2 = s.hold(held(8));
            assert_eq!(h2 >> 32, 1);
            assert!(h2 <= i64::MAX as u64);
        }
    }
}
