package gaps

// obs is a switched-out window as the steps see it.
type obs struct {
	s, e     float64 // start and end, relative to the first window's end, ns
	anchored bool    // work was outstanding at its start
	// adjacent: the previous window is the previous turn of a busy
	// stretch (nothing idle in between, this window began with work
	// outstanding).
	adjacent bool
	comps    uint64 // completions between the previous window and this one
}

// observe turns the windows ws (time order) into observations, times
// relative to the first window's end (returned as e0).
func observe(ws []cand) (o []obs, e0 float64) {
	e0 = float64(ws[0].end)
	o = make([]obs, len(ws))
	for i, w := range ws {
		o[i] = obs{s: float64(w.start) - e0, e: float64(w.end) - e0, anchored: w.anchored}
		if i > 0 {
			p := ws[i-1]
			o[i].adjacent = w.anchored && w.zeroStart == p.zeroEnd
			o[i].comps = w.compStart - p.compEnd + 1
		}
	}
	return o, e0
}

// saturating reports whether the guest was busy across most consecutive
// windows (defaults.busyAcrossFrac), with enough windows for the
// order-statistic corrections' asymptotics: with a handful the extremes
// are left as they are, and the confidence is low anyway.
func saturating(o []obs) bool {
	n, adj := len(o), 0
	for i := 1; i < n; i++ {
		if o[i].adjacent {
			adj++
		}
	}
	return mostlyAdjacent(adj, n)
}

// mostlyAdjacent reports whether adj adjacent windows of n make the guest
// busy across most consecutive windows (see saturating).
func mostlyAdjacent(adj, n int) bool {
	return float64(adj) >= defaults.busyAcrossFrac*float64(n-1) && n >= defaults.busyAcrossMin
}
