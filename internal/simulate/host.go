package simulate

import (
	"math/rand/v2"
	"sort"
	"time"
)

// host generates our VF's on-windows lazily and maps guest work to wall
// time: work progresses only inside on-windows.
type host struct {
	sc   *Scenario
	rng  *rand.Rand
	pass bool
	// retained on-windows: on[i] = [start, end), cum[i] = active time
	// before on[i] since the schedule began.
	on    [][2]int64
	cum   []int64
	next  int64   // our next turn starts here
	phase []int64 // per neighbour, with NeighbourOn/Off
	total int64   // cumulative active time at the end of the last window
	// turn receives each of our turns [s,e) and the start of the next
	// one (the off-window is [e,next)) as it is generated.
	turn func(s, e, next int64, self bool)
}

func newHost(sc *Scenario, rng *rand.Rand, t0 int64, turn func(s, e, next int64, self bool)) *host {
	h := &host{sc: sc, rng: rng, pass: sc.Policy == None, turn: turn}
	if !h.pass {
		// start somewhere inside a period
		h.next = t0 - int64(rng.Float64()*float64(sc.NominalPeriod()))
		if sc.Policy == Skip && sc.NeighbourOn > 0 {
			h.phase = make([]int64, sc.VFs)
			for k := range h.phase {
				h.phase[k] = int64(rng.Float64() * float64(sc.NeighbourOn+sc.NeighbourOff))
			}
		}
	}
	return h
}

func (h *host) jitter(d time.Duration) int64 {
	if h.sc.Jitter <= 0 {
		return int64(d)
	}
	return int64(d) + int64((2*h.rng.Float64()-1)*float64(h.sc.Jitter))
}

// grow appends our next turn.
func (h *host) grow() {
	sc := h.sc
	s := h.next
	e := s + h.jitter(sc.slice(0))
	h.on = append(h.on, [2]int64{s, e})
	h.cum = append(h.cum, h.total)
	h.total += e - s
	// the off-window that follows
	t := e + int64(sc.SwitchCost)
	any := false
	for k := 1; k < sc.VFs; k++ {
		if sc.Policy == Skip && !h.neighbourBusy(k, t) {
			continue
		}
		any = true
		t += h.jitter(sc.slice(k)) + int64(sc.SwitchCost)
	}
	if !any {
		// every neighbour idle: switch straight back (no second switch)
		t = e + int64(sc.SwitchCost)
	}
	h.next = t
	if h.turn != nil {
		h.turn(s, e, t, !any)
	}
}

// prune drops windows that end before t (no query will come before t).
func (h *host) prune(t int64) {
	if len(h.on) < 4096 {
		return
	}
	i := sort.Search(len(h.on), func(i int) bool { return h.on[i][1] > t })
	if i < len(h.on)/2 {
		return
	}
	n := copy(h.on, h.on[i:])
	h.on = h.on[:n]
	n = copy(h.cum, h.cum[i:])
	h.cum = h.cum[:n]
}

// ensure generates windows until one ends after t.
func (h *host) ensure(t int64) {
	for len(h.on) == 0 || h.on[len(h.on)-1][1] <= t {
		h.grow()
	}
}

// finish returns when work of x ns started (made ready) at wall time s
// completes.
func (h *host) finish(s, x int64) int64 {
	if h.pass {
		return s + x
	}
	h.ensure(s)
	i := sort.Search(len(h.on), func(i int) bool { return h.on[i][1] > s })
	if s < h.on[i][0] {
		s = h.on[i][0]
	}
	target := h.cum[i] + (s - h.on[i][0]) + x
	for {
		w := h.on[i]
		if h.cum[i]+(w[1]-w[0]) >= target {
			return w[0] + (target - h.cum[i])
		}
		i++
		if i == len(h.on) {
			h.grow()
		}
	}
}

// neighbourBusy reports whether neighbour k has work when its turn comes at t.
func (h *host) neighbourBusy(k int, t int64) bool {
	if h.phase == nil {
		return h.rng.Float64() < h.sc.NeighbourLoad
	}
	cyc := int64(h.sc.NeighbourOn + h.sc.NeighbourOff)
	ph := (t + h.phase[k]) % cyc
	if ph < 0 {
		ph += cyc
	}
	return ph < int64(h.sc.NeighbourOn)
}
