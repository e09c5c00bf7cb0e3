package simulate

import (
	"math/rand/v2"
	"sort"
)

// stealer generates the episodes in which the guest vCPU that takes the
// GPU interrupt is descheduled by the host, from its own random stream (so
// the rest of the run draws the same numbers with or without steal).
// Episodes start at exponential gaps (mean StealEvery) after the previous
// one ended and last StealLen × U[0.75, 1.25).
type stealer struct {
	rng       *rand.Rand
	every, ln float64
	eps       [][2]int64 // retained episodes, in time order
	all       [][2]int64 // every episode generated, for the truth
	next      int64      // the next episode starts here
}

func newStealer(sc *Scenario, t0 int64) *stealer {
	st := &stealer{rng: rand.New(rand.NewPCG(sc.Seed, 0x57ea1)), every: float64(sc.StealEvery), ln: float64(sc.StealLen)}
	st.next = t0 + int64(st.rng.ExpFloat64()*st.every)
	return st
}

// gen generates episodes until one starts after t.
func (st *stealer) gen(t int64) {
	for st.next <= t {
		a := st.next
		b := a + max(int64(st.ln*(0.75+0.5*st.rng.Float64())), 1)
		st.eps = append(st.eps, [2]int64{a, b})
		st.all = append(st.all, [2]int64{a, b})
		st.next = b + int64(st.rng.ExpFloat64()*st.every)
	}
}

// signal returns when a completion that really happened at d is
// signalled: d, or, inside an episode [a, b), 2–4 µs after b (in the
// order the completions happened).
func (st *stealer) signal(d int64) int64 {
	st.gen(d)
	i := sort.Search(len(st.eps), func(i int) bool { return st.eps[i][1] > d })
	if i == len(st.eps) || d < st.eps[i][0] {
		return d
	}
	a, b := st.eps[i][0], st.eps[i][1]
	return b + 2000 + 2000*(d-a)/(b-a)
}

// prune drops episodes that end before t.
func (st *stealer) prune(t int64) {
	i := sort.Search(len(st.eps), func(i int) bool { return st.eps[i][1] > t })
	if i > 0 && i >= len(st.eps)/2 {
		st.eps = append(st.eps[:0], st.eps[i:]...)
	}
}
