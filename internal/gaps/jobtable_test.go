package gaps

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// TestJobTableMatchesMap drives jobTable and a Go map with the same random
// operations (probe and put among them) over a small key space (so probe runs wrap and deletions shift
// entries back) and compares them after every step.
func TestJobTableMatchesMap(t *testing.T) {
	for _, keys := range []int{3, 50, 700} {
		rng := rand.New(rand.NewPCG(uint64(keys), 1))
		var tb jobTable
		m := map[event.JobKey]jobRec{}
		key := func() event.JobKey {
			i := uint64(rng.IntN(keys))
			switch i % 3 {
			case 0:
				return event.JobKey{Fence: 0xffff9a3b40000000 + i<<6}
			case 1:
				return event.JobKey{Context: i % 7, Seqno: i}
			}
			return event.JobKey{Fence: i << 40, Seqno: i}
		}
		for step := range 20000 {
			k := key()
			switch rng.IntN(6) {
			case 0, 1:
				rec := jobRec{first: int64(step), ring: int32(step % 5)}
				tb.set(k, rec)
				m[k] = rec
			case 5:
				// probe, then put where it found room (set where not).
				rec := jobRec{first: int64(step), ring: int32(step % 7)}
				i, found := tb.probe(k)
				_, want := m[k]
				if found != want {
					t.Fatalf("keys=%d step %d: probe(%v) found %v, map %v", keys, step, k, found, want)
				}
				switch {
				case found:
					tb.slots[i].rec = rec
				case i >= 0:
					tb.put(i, k, rec)
				default:
					tb.set(k, rec)
				}
				m[k] = rec
			case 2:
				tb.del(k)
				delete(m, k)
			case 3:
				got, ok := tb.take(k)
				want, wok := m[k]
				if ok != wok || got != want {
					t.Fatalf("keys=%d step %d: take(%v) = %v, %v; want %v, %v", keys, step, k, got, ok, want, wok)
				}
				delete(m, k)
			case 4:
				if r := tb.ref(k); r != nil {
					if _, ok := m[k]; !ok {
						t.Fatalf("keys=%d step %d: ref(%v) of an absent key", keys, step, k)
					}
					r.proc = int32(step)
					m[k] = *r
				} else if _, ok := m[k]; ok {
					t.Fatalf("keys=%d step %d: ref(%v) nil for a present key", keys, step, k)
				}
			}
			if tb.len() != len(m) {
				t.Fatalf("keys=%d step %d: len %d, map %d", keys, step, tb.len(), len(m))
			}
			if 2*tb.len() > len(tb.slots) {
				t.Fatalf("keys=%d step %d: %d entries in %d slots, over half", keys, step, tb.len(), len(tb.slots))
			}
			if step%97 == 0 || keys < 10 {
				for k, want := range m {
					if got, ok := tb.get(k); !ok || got != want {
						t.Fatalf("keys=%d step %d: get(%v) = %v, %v; want %v", keys, step, k, got, ok, want)
					}
				}
				n := 0
				for i := range tb.slots {
					if s := &tb.slots[i]; s.used {
						n++
						if _, ok := m[s.key]; !ok {
							t.Fatalf("keys=%d step %d: table holds deleted %v", keys, step, s.key)
						}
					}
				}
				if n != len(m) {
					t.Fatalf("keys=%d step %d: %d used slots, want %d", keys, step, n, len(m))
				}
			}
		}
	}
}

// TestJobRecSize keeps the job record, and so the table's slots, small:
// the table is walked on every event, and a slot is a key and a record.
func TestJobRecSize(t *testing.T) {
	if n := unsafe.Sizeof(jobRec{}); n > 48 {
		t.Errorf("jobRec is %d bytes, want at most 48", n)
	}
	if n := unsafe.Sizeof(jobSlot{}); n > 80 {
		t.Errorf("jobSlot is %d bytes, want at most 80", n)
	}
}
