package gaps

import (
	"math"
	"time"
)

// vfs infers the number of VFs from Period = N·(Slice + c), with c the
// per-turn switch cost: N is the largest count whose implied c is not
// negative (within vfsSlack slices), preferring the one whose c is closest
// to a typical world switch (typicalSwitch) when several fit within
// maxSwitchFrac of the slice. It returns 0 when fewer than two or more
// than maxVFs fit.
func vfs(period, slice float64) (int, time.Duration) {
	if slice <= 0 {
		return 0, 0
	}
	t := &defaults
	nmax := int(math.Floor(period/slice + t.vfsSlack)) // the slice estimate may run a little over Period/N
	if nmax < 2 || nmax > maxVFs {
		return 0, 0
	}
	best, bestD := nmax, math.Inf(1)
	for k := nmax; k >= 2; k-- {
		c := period/float64(k) - slice
		if c > t.maxSwitchFrac*slice && k != nmax {
			break
		}
		if d := math.Abs(c - t.typicalSwitch); d < bestD {
			best, bestD = k, d
		}
	}
	c := max(period/float64(best)-slice, 0)
	return best, time.Duration(c)
}
