package gaps

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// storeSlice returns the store's candidates as a slice.
func storeSlice(s *candStore) []cand {
	out := make([]cand, 0, s.len())
	for i := range s.len() {
		out = append(out, *s.at(i))
	}
	return out
}

// The chunked store holds what a slice would, across chunk boundaries,
// through truncation and regrowth, and reuses the chunks truncation
// emptied (as a slice keeps its capacity) rather than making new ones.
func TestCandStoreMatchesSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s candStore
	var ref []cand
	next := int64(0)
	most := 0 // chunks ever needed at once
	for step := range 2000 {
		switch r := rng.IntN(10); {
		case r < 8:
			for range rng.IntN(3 * candChunk / 2) {
				next++
				c := cand{start: next, end: next + rng.Int64N(100), inflight: rng.IntN(5), compEnd: uint64(next)}
				s.push(c)
				ref = append(ref, c)
			}
		default:
			n := 0
			if len(ref) > 0 {
				n = rng.IntN(len(ref) + 1)
			}
			if rng.IntN(4) == 0 {
				n = n / candChunk * candChunk // on a chunk boundary
			}
			s.truncate(n)
			ref = ref[:n]
		}
		if s.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref))
		}
		most = max(most, (len(ref)+candChunk-1)/candChunk)
		if s.cap() != most*candChunk {
			t.Fatalf("step %d: room for %d candidates, want %d (the most ever held, in whole chunks)", step, s.cap(), most*candChunk)
		}
		if len(s.chunks) != (len(ref)+candChunk-1)/candChunk {
			t.Fatalf("step %d: %d chunks in use for %d candidates", step, len(s.chunks), len(ref))
		}
		if got := storeSlice(&s); !slices.Equal(got, ref) {
			t.Fatalf("step %d: store differs from slice", step)
		}
		// What truncate cut off is cleared, spares included.
		stale := func(cs []cand) bool { return slices.ContainsFunc(cs, func(c cand) bool { return c != cand{} }) }
		if n := s.len(); n%candChunk != 0 && stale(s.chunks[len(s.chunks)-1][n%candChunk:]) {
			t.Fatalf("step %d: stale candidates past the end", step)
		}
		if slices.ContainsFunc(s.spare, stale) {
			t.Fatalf("step %d: stale candidates in a spare chunk", step)
		}
	}
}

// compactCands keeps, offline, the candidates that can still be windows
// under the current threshold, and if they are still too many the newer
// half of them; live, the newer half. (Before the store was chunked, the
// offline fallback took the newer half of an array already rewritten by
// the filter: kept ones and stale originals mixed.)
func TestCompactCands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		horizon bool
		long    func(i int) bool // which candidates are long
		want    func(all []cand) []cand
	}{
		{"live", true, func(i int) bool { return i%2 == 0 }, func(all []cand) []cand { return all[len(all)/2:] }},
		{"offline, most short", false, func(i int) bool { return i%3 == 0 }, func(all []cand) []cand {
			return slices.DeleteFunc(slices.Clone(all), func(c cand) bool { return c.end-c.start < 5_000_000 })
		}},
		{"offline, most long", false, func(i int) bool { return i%5 != 0 }, func(all []cand) []cand {
			long := slices.DeleteFunc(slices.Clone(all), func(c cand) bool { return c.end-c.start < 5_000_000 })
			return long[len(long)/2:]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{}
			if tc.horizon {
				cfg.Horizon = 1e9
			}
			e := New(cfg)
			// A threshold for the offline filter: normal spacing of 1 ms,
			// stretches of 6 ms.
			for range 500 {
				e.busyH.add(1_000_000)
				e.busyH.add(6_000_000)
			}
			if _, ok := findThreshold(&e.busyH); !ok && !tc.horizon {
				t.Fatal("no threshold in the test histogram")
			}
			n := 2*candChunk + 77
			var all []cand
			for i := range n {
				d := int64(1_000_000)
				if tc.long(i) {
					d = 6_000_000
				}
				c := cand{start: int64(i) * 10_000_000, end: int64(i)*10_000_000 + d, compStart: uint64(i)}
				all = append(all, c)
				e.cands.push(c)
			}
			e.compactCands()
			if got, want := storeSlice(&e.cands), tc.want(all); !slices.Equal(got, want) {
				t.Fatalf("kept %d candidates, want %d", len(got), len(want))
			}
		})
	}
}
