package gaps

import "math"

// lowerEnvelopeSlope returns the slope of the lower convex hull of the
// inlier points (k, end) at the points' mean k: the line under all ends
// that is closest to them on average. It is false with fewer than three
// distinct turns, or when k is not in order.
func lowerEnvelopeSlope(o []obs, k []float64, in []bool) (float64, bool) {
	type pt struct{ x, y float64 }
	pts := make([]pt, 0, len(o))
	var sx float64
	for i := range o {
		if !in[i] {
			continue
		}
		p := pt{k[i], o[i].e}
		if n := len(pts); n > 0 && pts[n-1].x == p.x {
			pts[n-1].y = min(pts[n-1].y, p.y)
			continue
		}
		if n := len(pts); n > 0 && pts[n-1].x > p.x {
			return 0, false
		}
		pts = append(pts, p)
		sx += p.x
	}
	if len(pts) < 3 {
		return 0, false
	}
	mx := sx / float64(len(pts))
	h := make([]pt, 0, len(pts))
	for _, p := range pts {
		for len(h) >= 2 {
			a, b := h[len(h)-2], h[len(h)-1]
			if (b.x-a.x)*(p.y-a.y)-(b.y-a.y)*(p.x-a.x) <= 0 {
				h = h[:len(h)-1]
				continue
			}
			break
		}
		h = append(h, p)
	}
	for i := 0; i+1 < len(h); i++ {
		if h[i].x <= mx && mx <= h[i+1].x {
			return (h[i+1].y - h[i].y) / (h[i+1].x - h[i].x), true
		}
	}
	return 0, false
}

// blockSlopeSE is the standard error of the period from the spread of the
// slopes fitted to defaults.slopeBlocks consecutive blocks of the inlier
// windows (0 when a block has too few). A host whose turns drift
// (relative timers: each switch armed after the previous one completed)
// leaves residuals that wander together, which least squares takes for
// independent noise: its standard error is then far too small, while the
// blocks' slopes disagree by as much as the drift.
func blockSlopeSE(o []obs, k []float64, in []bool) float64 {
	nb := defaults.slopeBlocks
	idx := make([]int, 0, len(o))
	for i := range o {
		if in[i] {
			idx = append(idx, i)
		}
	}
	if len(idx) < defaults.minBlock*nb {
		return 0
	}
	var ps []float64
	for b := range nb {
		blk := idx[b*len(idx)/nb : (b+1)*len(idx)/nb]
		var sx, sy float64
		for _, i := range blk {
			sx += k[i]
			sy += o[i].e
		}
		m := float64(len(blk))
		mx, my := sx/m, sy/m
		var sxx, sxy float64
		for _, i := range blk {
			sxx += (k[i] - mx) * (k[i] - mx)
			sxy += (k[i] - mx) * (o[i].e - my)
		}
		if sxx == 0 {
			return 0
		}
		ps = append(ps, sxy/sxx)
	}
	_, sd := meanSD(ps)
	return sd / math.Sqrt(float64(nb))
}
