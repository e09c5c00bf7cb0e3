package gaps

import (
	"math"
	"slices"
)

// median returns the upper median of x (the element at len/2 of the
// sorted values; 0 when x is empty). x is left as it is.
func median(x []float64) float64 {
	c := slices.Clone(x)
	slices.Sort(c)
	if len(c) == 0 {
		return 0
	}
	return c[len(c)/2]
}

// meanSD returns the mean and the sample standard deviation of x.
func meanSD(x []float64) (float64, float64) {
	if len(x) == 0 {
		return 0, 0
	}
	var s float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	var v float64
	for _, y := range x {
		v += (y - m) * (y - m)
	}
	if len(x) > 1 {
		v /= float64(len(x) - 1)
	}
	return m, math.Sqrt(v)
}

// tailAt is the index of the low tail quantile (1/defaults.tail, 2.5 %)
// among n sorted values: the extremes are read there, not at 0, so that
// one stray value does not set them.
func tailAt(n int) int {
	return n / defaults.tail
}

// lengthSE is the standard error of an off-time taken as the mean of
// nw window lengths of spread sd less the straddling job: the windows'
// own scatter and the job spacing's (sp) combined.
func lengthSE(sd float64, nw int, sp spacing) float64 {
	return math.Hypot(sd/math.Sqrt(float64(nw)), sp.sd/math.Sqrt(float64(sp.n)))
}
