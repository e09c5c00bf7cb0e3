package gaps

import (
	"math"
	"slices"
)

// latticeFit is a lattice of turn starts fitted to the window ends:
// end = phi + k·period + R, R ≥ 0 the straddling job's remainder.
type latticeFit struct {
	period, periodSE float64
	// blockSE is the period's standard error from the spread of block
	// slopes (see blockSlopeSE): the one to report when turns drift.
	blockSE float64
	// envDiff is how far the lower envelope's slope, taken for the
	// period, lay from least squares' (0 when it was not taken).
	envDiff    float64
	phi        float64   // end = phi + k·period
	k          []float64 // turn index of each window
	inliers    float64   // fraction of windows on the lattice
	span       int       // turns covered
	oneStep    float64   // fraction of consecutive busy windows one period apart
	minAdjStep float64   // fewest periods between consecutive busy windows
	in         []bool
	// local: the turns drift (host jitter): no single lattice holds the
	// windows, but each sits one period after the previous; period is
	// the mean step and phi/k do not describe absolute turn starts.
	local bool
}

// fitLattice assigns each window end a turn index using a trial period p0
// (by tracking when track, else by cumulative steps), fits end = φ +
// k·period by least squares on the inliers (within tol of the line) and
// repeats. When no global line holds the windows but the tracking did,
// the turns drift and the fit is local (see driftFit). A global period is
// then refined by the lower envelope of the ends.
func fitLattice(o []obs, p0, tol float64, track bool) latticeFit {
	n := len(o)
	ktrk, trk := trackTurns(o, p0, tol, track)
	f := latticeFit{k: slices.Clone(ktrk), in: make([]bool, n)}
	cnt := lineFit(o, &f, p0, tol, trk)
	if track && float64(cnt) < defaults.minInliers*float64(n) {
		if c, ok := driftFit(o, &f, ktrk, trk); ok {
			cnt = c
		}
	}
	// Window ends cannot precede their turn's start: they lie on or
	// above the line of turn starts, and the earliest ones touch it.
	// The lower envelope's slope is far less noisy than least squares
	// over the straddling jobs' remainders.
	if env, ok := lowerEnvelopeSlope(o, f.k, f.in); !f.local && ok && f.periodSE > 0 && math.Abs(env-f.period) <= defaults.envelopeSEs*f.periodSE {
		// The two slopes differ by the envelope's own doubt at least:
		// with jitter on every switch the envelope follows the turns
		// the jitter moved most.
		f.envDiff = math.Abs(env - f.period)
		f.period = env
		minR := math.Inf(1)
		for i := range o {
			if f.in[i] {
				minR = min(minR, o[i].e-f.period*f.k[i])
			}
		}
		// keep phi as the least-squares line (ends' mean offset) with the new slope
		var sr float64
		for i := range o {
			if f.in[i] {
				sr += o[i].e - f.period*f.k[i] - minR
			}
		}
		if cnt > 0 {
			f.phi = minR + sr/float64(cnt)
		}
	}
	if !f.local {
		f.blockSE = blockSlopeSE(o, f.k, f.in)
	}
	if n > 0 {
		f.span = int(f.k[n-1] - f.k[0])
	}
	f.inliers = float64(cnt) / float64(n)
	f.oneStep, f.minAdjStep = adjacentSteps(o, f.k, f.in)
	return f
}

// trackTurns gives each window a turn index on the trial period p0 and
// says which sat on the tracked lattice. Tracking places each window
// relative to the last window that sat on the trial lattice (its anchor),
// so spurious windows in between (a vCPU or the tracer held up) neither
// shift the count nor, in the first fit, pull the line. A few misses in a
// row re-anchor: the anchor itself may have been spurious. Without track,
// indices are cumulative steps (variable mode: windows whole slots apart).
func trackTurns(o []obs, p0, tol float64, track bool) (k []float64, trk []bool) {
	n := len(o)
	k = make([]float64, n)
	trk = make([]bool, n)
	if n > 0 {
		trk[0] = true
	}
	anchor, miss := 0, 0
	for i := 1; i < n; i++ {
		if !track {
			k[i] = k[i-1] + math.Round((o[i].e-o[i-1].e)/p0)
			trk[i] = true
			continue
		}
		x := math.Round((o[i].e - o[anchor].e) / p0)
		k[i] = k[anchor] + x
		// a step may also carry the host's jitter: a wider band
		if r := o[i].e - o[anchor].e - x*p0; math.Abs(r) <= max(tol, defaults.trackBand*p0) {
			anchor, miss, trk[i] = i, 0, true
		} else if miss++; miss >= defaults.reanchorMisses {
			anchor, miss = i, 0
		}
	}
	return k, trk
}

// lineFit fits end = phi + period·k by least squares, first over the
// tracked windows trk (their indices are right, only the trial period p0
// is off, so residuals drift), then over the windows within tol of the
// residuals' median, re-indexing the windows with each refined period. It
// fills f's period, periodSE, phi, k and in, and returns the inliers'
// count.
func lineFit(o []obs, f *latticeFit, p0, tol float64, trk []bool) int {
	n := len(o)
	k, in := f.k, f.in
	p, phi := p0, 0.0
	var se float64
	cnt := n
	for iter := 0; iter < defaults.fitIters; iter++ {
		res := make([]float64, n)
		for i := range o {
			res[i] = o[i].e - phi - p*k[i]
		}
		med := median(res)
		cnt = 0
		for i := range o {
			in[i] = (iter == 0 && trk[i]) || (iter > 0 && math.Abs(res[i]-med) <= tol)
			if in[i] {
				cnt++
			}
		}
		if cnt < 2 {
			break
		}
		var sx, sy float64
		for i := range o {
			if in[i] {
				sx += k[i]
				sy += o[i].e
			}
		}
		mx, my := sx/float64(cnt), sy/float64(cnt)
		var sxx, sxy float64
		for i := range o {
			if in[i] {
				sxx += (k[i] - mx) * (k[i] - mx)
				sxy += (k[i] - mx) * (o[i].e - my)
			}
		}
		if sxx == 0 {
			break
		}
		p = sxy / sxx
		phi = my - p*mx
		var rss float64
		for i := range o {
			if in[i] {
				r := o[i].e - phi - p*k[i]
				rss += r * r
			}
		}
		if cnt > 2 {
			se = math.Sqrt(rss / float64(cnt-2) / sxx)
		}
		for i := range o {
			k[i] = math.Round((o[i].e - phi) / p)
		}
	}
	f.period, f.periodSE, f.phi = p, se, phi
	return cnt
}

// driftFit fits drifting turns (a host whose slices jitter): the turn
// starts random-walk around any lattice, so a global line leaves windows
// off it while the tracking, step by step, held nearly all
// (defaults.driftTracked). The mean step over the tracked windows (ktrk,
// trk) is then the period, its error from the one-turn steps' scatter
// over the turns spanned. It makes f local and returns the inliers'
// count, or false when the tracking did not hold.
func driftFit(o []obs, f *latticeFit, ktrk []float64, trk []bool) (int, bool) {
	n := len(o)
	nt, first, last := 0, -1, -1
	for i := range trk {
		if trk[i] {
			nt++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if float64(nt) < defaults.driftTracked*float64(n) || last <= first || ktrk[last] <= ktrk[first] {
		return 0, false
	}
	steps := ktrk[last] - ktrk[first]
	p := (o[last].e - o[first].e) / steps
	var ss float64
	m := 0
	for i := first + 1; i <= last; i++ {
		if trk[i] && trk[i-1] && ktrk[i]-ktrk[i-1] == 1 {
			d := o[i].e - o[i-1].e - p
			ss += d * d
			m++
		}
	}
	se := 0.0
	if m > 1 {
		se = math.Sqrt(ss/float64(m-1)) / math.Sqrt(steps)
	}
	copy(f.k, ktrk)
	copy(f.in, trk)
	f.period, f.periodSE, f.local = p, se, true
	f.phi = o[first].e - p*f.k[first]
	return nt, true
}

// adjacentSteps returns, over consecutive busy windows both on the
// lattice, the fraction one period apart and the fewest periods between
// them (1 and +Inf when there are none). With the guest busy from one
// window to the next, a fixed host cannot have given it two turns in
// between: consecutive busy windows are one period apart.
func adjacentSteps(o []obs, k []float64, in []bool) (oneStep, minStep float64) {
	adj, one := 0, 0
	minStep = math.Inf(1)
	for i := 1; i < len(o); i++ {
		if o[i].adjacent && in[i] && in[i-1] {
			adj++
			if k[i]-k[i-1] == 1 {
				one++
			}
			minStep = min(minStep, k[i]-k[i-1])
		}
	}
	oneStep = 1.0
	if adj > 0 {
		oneStep = float64(one) / float64(adj)
	}
	return oneStep, minStep
}
