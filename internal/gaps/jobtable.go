package gaps

import "github.com/gpuwatch/gpuwatch/internal/event"

// jobTable maps the followed jobs' keys to their records. It is the
// engine's busiest structure (two to four lookups per event), so it is an
// open-addressing table with linear probing and backward-shift deletion
// keyed directly by the 24-byte JobKey: cheaper per lookup than a Go map,
// which hashes the key's bytes through a generic path. The load factor
// stays at or below 1/2.
type jobTable struct {
	slots []jobSlot // len is 0 or a power of two
	n     int
	shift uint8 // 64 - log2(len(slots))
}

type jobSlot struct {
	key  event.JobKey
	used bool
	rec  jobRec
}

// jobHash mixes the three key words (fences are pointers with zero low
// bits, contexts and seqnos small counters); the table takes its top
// bits, which a Fibonacci multiplication mixes well.
func jobHash(k event.JobKey) uint64 {
	h := k.Fence ^ k.Context*0xc2b2ae3d27d4eb4f ^ k.Seqno*0xff51afd7ed558ccd
	h ^= h >> 29
	return h * 0x9e3779b97f4a7c15
}

func (t *jobTable) len() int { return t.n }

// find returns the slot holding k, or -1.
func (t *jobTable) find(k event.JobKey) int {
	if t.n == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := int(jobHash(k) >> t.shift); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used {
			return -1
		}
		if s.key == k {
			return i
		}
	}
}

// probe returns the slot holding k (found), or else the empty slot set
// would put k in, -1 when set would grow the table first. An empty slot
// stays k's to fill with put until the table next changes.
func (t *jobTable) probe(k event.JobKey) (i int, found bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	mask := len(t.slots) - 1
	for i = int(jobHash(k) >> t.shift); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used {
			if 2*(t.n+1) > len(t.slots) {
				return -1, false
			}
			return i, false
		}
		if s.key == k {
			return i, true
		}
	}
}

// put fills slot i, empty, found for k by probe: set without a second
// probe.
func (t *jobTable) put(i int, k event.JobKey, rec jobRec) {
	t.slots[i] = jobSlot{key: k, used: true, rec: rec}
	t.n++
}

// get returns k's record.
func (t *jobTable) get(k event.JobKey) (jobRec, bool) {
	if i := t.find(k); i >= 0 {
		return t.slots[i].rec, true
	}
	return jobRec{}, false
}

// ref returns k's record in place, nil if absent; the pointer is valid
// until the table next changes (set, del, take).
func (t *jobTable) ref(k event.JobKey) *jobRec {
	if i := t.find(k); i >= 0 {
		return &t.slots[i].rec
	}
	return nil
}

// take removes k and returns its record: get and del in one probe.
func (t *jobTable) take(k event.JobKey) (jobRec, bool) {
	i := t.find(k)
	if i < 0 {
		return jobRec{}, false
	}
	return t.takeAt(i), true
}

// takeAt removes the record in slot i, found by find, and returns it.
func (t *jobTable) takeAt(i int) jobRec {
	rec := t.slots[i].rec
	t.delAt(i)
	return rec
}

// set adds or replaces k's record.
func (t *jobTable) set(k event.JobKey, rec jobRec) {
	i, found := t.probe(k)
	if found {
		t.slots[i].rec = rec
		return
	}
	if i < 0 {
		// Empty, or one more would fill it past half.
		t.grow()
		i, _ = t.probe(k)
	}
	t.put(i, k, rec)
}

// del removes k if present.
func (t *jobTable) del(k event.JobKey) {
	if i := t.find(k); i >= 0 {
		t.delAt(i)
	}
}

// delAt empties slot i and shifts back the entries of its probe run that
// would no longer be reachable.
func (t *jobTable) delAt(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].used; j = (j + 1) & mask {
		home := int(jobHash(t.slots[j].key) >> t.shift)
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = jobSlot{}
	t.n--
}

func (t *jobTable) grow() {
	old := t.slots
	n := max(2*len(old), 64)
	bits := uint8(0)
	for 1<<bits < n {
		bits++
	}
	t.slots, t.n, t.shift = make([]jobSlot, n), 0, 64-bits
	for i := range old {
		if old[i].used {
			t.set(old[i].key, old[i].rec)
		}
	}
}
