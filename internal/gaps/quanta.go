package gaps

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// quantaFit is a variable schedule read from the turns themselves: each
// busy turn (from one window's end to the next window's start) lasts a
// whole number of quanta, and the turn-to-turn time is whatever the
// neighbours took.
type quantaFit struct {
	// quantum is the host's time slice: every turn lasts a whole
	// multiple of it. quantumErr is one standard error.
	quantum, quantumErr float64
	// turn is the mean turn (on-time), period the mean turn-to-turn
	// time, periodErr its standard error and spread the standard
	// deviation of the turn-to-turn times.
	turn, turnErr, period, periodErr, spread float64
	// cost is the switch cost read from the shortest off-times (0 when
	// they do not show it).
	cost float64
	// turns is the number of busy turns measured, extended those that
	// lasted two quanta or more (a liquid host giving a VF that is
	// alone further quanta).
	turns, extended int
	// vfs is the most VFs seen busy in one round: 1 + the neighbours'
	// turns a window holds at one quantum (and switch) each.
	vfs     int
	inliers float64
	// intercept is b of on = a·m + b over the turns (0 for whole quanta,
	// −c for turns that paid a switch c per quantum), interceptErr its
	// standard error (+Inf with fewer than minExtended extended turns).
	intercept, interceptErr float64
	// switchPerQuantum: the intercept showed a switch paid per quantum
	// (switchedTurns): quantum is then the slice, each stretch of m
	// quanta m turns, and the m − 1 switches inside it hidden: hidden
	// is their time (cost each), hiddenN their number.
	switchPerQuantum bool
	hidden, hiddenN  float64
	// splitN (whole quanta) counts the turns that overran their quanta
	// by more than the tolerance: each held a switch-out too short to
	// see, splitOff their time off in all, splitErr its error.
	splitN, splitOff, splitErr float64
	split                      []splitTurn
}

// splitTurn is a turn that held a switch-out too short to see: the one
// ending at window at (an index of the observations), off its time off.
type splitTurn struct {
	at  int
	off float64
}

// locateSplits finds the switch-out inside each split turn: the longest
// gap between the recent completions inside the turn, when it is longer
// than twice the normal spacing and shorter than the window threshold (a
// longer one is a candidate of its own: a steal window left out of the
// turns, whose off-time the split stands for) and not closed by
// completions at once (steal). It returns the windows found (trace
// clock) and the time off of the turns where none was.
func locateSplits(ev *evidence, split []splitTurn) (found []span, lost, lostN float64) {
	for _, st := range split {
		a := int64(ev.e0 + ev.o[st.at-1].e)
		b := int64(ev.e0 + ev.o[st.at].s)
		k := ev.done.search(a)
		if ev.done.n == 0 || ev.done.at(0) > a || k >= ev.done.n {
			lost += st.off
			lostN++
			continue
		}
		var best span
		bk := -1
		for ; k+1 < ev.done.n && ev.done.at(k+1) <= b; k++ {
			if d := ev.done.at(k+1) - ev.done.at(k); d > best.end-best.start {
				best, bk = span{start: ev.done.at(k), end: ev.done.at(k + 1)}, k+1
			}
		}
		// closed by completions at once: steal (the GPU ran on), not a
		// switch-out
		burst := bk >= 0 && bk+1 < ev.done.n && ev.done.at(bk+1)-ev.done.at(bk) <= stealGap
		if d := float64(best.end - best.start); d > 2*ev.sp.mean && (ev.thr <= 0 || d < ev.thr) && !burst {
			found = append(found, best)
		} else {
			lost += st.off
			lostN++
		}
	}
	return found, lost, lostN
}

// wholeQuanta reports whether the extended turns are whole quanta rather
// than turns that paid a switch c per quantum (a skipping host switching
// straight back, whose windows sit on a slot grid of slice + c). A slot
// grid whose step exceeds the slice by less than half a typical world
// switch has no switch between its slots: it is the quantum grid itself.
// Otherwise the intercept must tell 0 from −c (its standard error small
// enough that hiddenSwitchSEs of them either side of each do not meet)
// and lie nearer 0.
func (f *quantaFit) wholeQuanta(c float64) bool {
	t := &defaults
	if float64(f.extended) < t.minExtended {
		return false
	}
	if c < t.typicalSwitch/2 {
		return true
	}
	return 2*t.hiddenSwitchSEs*f.interceptErr < c && f.intercept > -c/2
}

// inferQuanta fits the turns' lengths as whole multiples of one quantum.
// On a liquid host (GIM liquid, Intel GuC's default) an idle neighbour is
// skipped, and when no other VF has work the running one keeps the GPU
// for another whole quantum with no switch: each turn lasts m·Q. Between
// turns the busy neighbours run, each for up to its own quantum (less
// when its work runs out and the host switches it out early), so the
// off-times follow no grid, and neither do the turn starts: the slot
// grid (inferVariable) does not hold. The turns do.
//
// Each busy turn is measured between adjacent windows as on = next start
// − end + j (the straddling jobs' U+R, see doc.go); Q starts at the low
// cluster of the turns and is refined by least squares through the
// origin over the turns within tolerance of a multiple. A turn of m
// quanta that paid a switch per quantum (a skipping host switching
// straight back: m turns, not one) lasts m·Q + (m−1)·c instead, which
// shows as a negative intercept when on is regressed on m: then the
// turns are whole turns with a switch between them (switchedTurns).
//
// The period is the mean turn-to-turn time over the busy turns, with the
// standard error of that mean and the spread of the steps. A non-empty
// string says why no fit was found.
func inferQuanta(o []obs, j float64) (quantaFit, string) {
	t := &defaults
	var on, step, off []float64
	var at []int // the window after each turn
	for i := 1; i < len(o); i++ {
		if !o[i].adjacent {
			continue
		}
		at = append(at, i)
		on = append(on, o[i].s-o[i-1].e+j)
		step = append(step, o[i].e-o[i-1].e)
		off = append(off, o[i].e-o[i].s-j)
	}
	if len(on) < t.minSlotWindows {
		return quantaFit{}, fmt.Sprintf("only %d busy turns between windows: too few to measure the turns", len(on))
	}
	sorted := slices.Clone(on)
	slices.Sort(sorted)
	// The quantum is the shortest turn: try the low cluster at the
	// bottom tail, then at the usual quantile (a few turns cut short,
	// by a hiccup splitting a turn, leave the tail below it).
	var best quantaFit
	var bestM []float64
	for _, lo := range []float64{sorted[tailAt(len(sorted))], lowCluster(sorted)} {
		q0 := clusterAt(sorted, lo)
		if q0 <= 0 || q0 < t.minSlotJobs*j {
			continue
		}
		q, m, in := fitQuanta(on, q0, j)
		if in > best.inliers {
			best, bestM = quantaFit{quantum: q, inliers: in}, m
		}
	}
	if best.inliers < t.quantaInliers {
		return quantaFit{}, "turns are not whole multiples of one quantum"
	}
	q := best.quantum
	// q is the least-squares fit through the origin over the inliers
	// (fitQuanta's last step, over these very multiples): its error from
	// the residuals; and the free intercept, to tell whole quanta from
	// turns that paid a switch per quantum.
	var smm, n, ext float64
	for _, m := range bestM {
		if m == 0 {
			continue
		}
		smm += m * m
		n++
		if m >= 2 {
			ext++
		}
	}
	var ss float64
	for i, m := range bestM {
		if m > 0 {
			r := on[i] - m*q
			ss += r * r
		}
	}
	qErr := math.Sqrt(ss/max(n-1, 1)/smm + t.edgeRes*t.edgeRes)
	f := quantaFit{quantum: q, quantumErr: qErr, inliers: best.inliers, turns: len(on), extended: int(ext), interceptErr: math.Inf(1)}
	if ext >= t.minExtended {
		_, f.intercept, f.interceptErr = turnLine(on, bestM)
		if b := f.intercept; b < -t.hiddenSwitchSEs*f.interceptErr && b < -t.edgeRes {
			return switchedTurns(on, step, off, bestM, j)
		}
	}
	// A turn that overruns its whole quanta by more than the tolerance
	// (and short of another quantum) held a switch-out too short to
	// stand out from the job spacing: a neighbour switched out early,
	// its work gone. It is two turns, and the excess was off.
	tol := tolerance(j, q)
	var onSum float64
	for i, m := range bestM {
		onSum += on[i]
		if m > 0 {
			continue
		}
		k := math.Floor(on[i] / q)
		// (two parts of whole quanta each: k ≥ 2)
		if r := on[i] - k*q; k >= 2 && r > tol && r < q-tol {
			f.splitN++
			f.splitOff += r
			f.split = append(f.split, splitTurn{at: at[i], off: r})
		}
	}
	f.splitErr = math.Sqrt(f.splitN) * tol / 2
	n = float64(len(on)) + f.splitN
	var sdOn float64
	_, sdOn = meanSD(on)
	f.turn = (onSum - f.splitOff) / n
	f.turnErr = math.Hypot(sdOn/math.Sqrt(n), t.edgeRes)
	var stepSum float64
	for _, s := range step {
		stepSum += s
	}
	_, f.spread = meanSD(step)
	f.period = stepSum / n
	f.periodErr = f.spread / math.Sqrt(n)
	f.vfs, f.cost = quantaVFs(off, q)
	return f, ""
}

// clusterAt is the median of the sorted values within ±clusterBand of v
// (v itself when there are none).
func clusterAt(sorted []float64, v float64) float64 {
	b := defaults.clusterBand
	lo, _ := slices.BinarySearch(sorted, (1-b)*v)
	hi := lo + sort.SearchFloat64s(sorted[lo:], math.Nextafter((1+b)*v, math.Inf(1)))
	if hi <= lo {
		return v
	}
	return sorted[(lo+hi)/2]
}

// fitQuanta refines a trial quantum q0 on the turns on: each turn's
// multiple m = round(on/q), the turns within tolerance of m·q in, q
// refitted through the origin over them, quantaIters times. m[i] is 0 for
// a turn off the fit.
func fitQuanta(on []float64, q0, j float64) (q float64, m []float64, inliers float64) {
	q = q0
	m = make([]float64, len(on))
	for range defaults.quantaIters {
		tol := tolerance(j, q)
		var smm, smo float64
		in := 0
		for i, x := range on {
			k := max(1, math.Round(x/q))
			m[i] = 0
			if math.Abs(x-k*q) <= tol {
				m[i] = k
				smm += k * k
				smo += k * x
				in++
			}
		}
		if in == 0 {
			return q, m, 0
		}
		q = smo / smm
		inliers = float64(in) / float64(len(on))
	}
	return q, m, inliers
}

// turnLine is the least-squares line on = a·m + b over the turns with
// m > 0, and the standard error of b (+Inf with fewer than three turns
// or one multiple only).
func turnLine(on, m []float64) (a, b, bErr float64) {
	var n, sx, sy, sxx, sxy float64
	for i, k := range m {
		if k > 0 {
			n++
			sx += k
			sy += on[i]
			sxx += k * k
			sxy += k * on[i]
		}
	}
	d := n*sxx - sx*sx
	if n < 3 || d <= 0 {
		return 0, 0, math.Inf(1)
	}
	a = (n*sxy - sx*sy) / d
	b = (sy - a*sx) / n
	var ss float64
	for i, k := range m {
		if k > 0 {
			r := on[i] - a*k - b
			ss += r * r
		}
	}
	s2 := ss / (n - 2)
	return a, b, math.Sqrt(s2 * sxx / d)
}

// switchedTurns fits turns that paid a switch per quantum: a skipping
// host that finds every neighbour idle switches straight back to our VF
// (a world switch c that leaves no window between short jobs), so a busy
// stretch of m turns lasts m·(Slice + c) − c. The line on = a·m + b is
// refitted over the turns within tolerance, its multiples m =
// round((on − b)/a) redone, quantaIters times: Slice = a + b, c = −b.
// Each stretch holds m turns, so the period is the stretches' time over
// their turns, and the m − 1 switches inside each are hidden (their time
// counted against the measured share).
func switchedTurns(on, step, off, m []float64, j float64) (quantaFit, string) {
	t := &defaults
	a, b, _ := turnLine(on, m)
	m = slices.Clone(m)
	for range t.quantaIters {
		if a <= 0 {
			break
		}
		tol := tolerance(j, a+b)
		for i, x := range on {
			k := max(1, math.Round((x-b)/a))
			m[i] = 0
			if math.Abs(x-k*a-b) <= tol {
				m[i] = k
			}
		}
		a, b, _ = turnLine(on, m)
	}
	slice, c := a+b, -b
	var n, turns, span, ss, mm, hiddenN float64
	for _, k := range m {
		if k > 0 {
			n++
			mm += k
		}
	}
	if n < float64(t.minSlotWindows) || slice <= 0 || c <= 0 || n < t.quantaInliers*float64(len(on)) {
		return quantaFit{switchPerQuantum: true}, "turns are neither whole quanta nor whole turns with a switch between them"
	}
	mbar := mm / n
	var sxx float64
	for i, k := range m {
		if k > 0 {
			r := on[i] - a*k - b
			ss += r * r
			sxx += (k - mbar) * (k - mbar)
			turns += k
			span += step[i]
			hiddenN += k - 1
		}
	}
	s2 := ss / max(n-2, 1)
	// the line's value at m = 1, and the timestamps' resolution
	sliceErr := math.Sqrt(s2*(1/n+(1-mbar)*(1-mbar)/max(sxx, 1e-300)) + t.edgeRes*t.edgeRes)
	period := span / turns
	// the ratio estimate's error, from the stretches' scatter
	var sr float64
	for i, k := range m {
		if k > 0 {
			d := step[i] - period*k
			sr += d * d
		}
	}
	f := quantaFit{
		quantum: slice, quantumErr: sliceErr, period: period, periodErr: max(a/turns, math.Sqrt(sr)/turns),
		turns: int(turns), inliers: n / float64(len(on)), switchPerQuantum: true,
		intercept: b, cost: c, hidden: hiddenN * c, hiddenN: hiddenN,
	}
	var offs []float64
	for i, k := range m {
		if k > 0 {
			offs = append(offs, off[i])
		}
	}
	f.vfs, _ = quantaVFs(offs, slice)
	return f, ""
}

// quantaVFs is the most VFs seen busy in one round: 1 + the most
// neighbours' turns an off-time holds, each a quantum q and a switch.
// Neighbours switched out early (their work ran out) take less, so this
// is a lower bound. The switch cost c is read from the shortest off-times
// (one neighbour: q + 2c) when they lie just above q, else taken as 0.
func quantaVFs(off []float64, q float64) (vfs int, cost float64) {
	if len(off) == 0 || q <= 0 {
		return 0, 0
	}
	t := &defaults
	sorted := slices.Clone(off)
	slices.Sort(sorted)
	c := 0.0
	if lo := clusterAt(sorted, sorted[tailAt(len(sorted))]); lo > q && lo < q*(1+2*t.maxSwitchFrac) {
		c = (lo - q) / 2
	}
	k := 1.0
	for _, x := range off {
		k = max(k, math.Round((x-c)/(q+c)))
	}
	return min(1+int(k), maxVFs), c
}
