package gaps

import (
	"math"
	"testing"
)

func TestStats(t *testing.T) {
	cases := []struct {
		x        []float64
		med, m   float64
		sd       float64
		unsorted bool
	}{
		{nil, 0, 0, 0, false},
		{[]float64{3}, 3, 3, 0, false},
		{[]float64{4, 1, 3, 2}, 3, 2.5, math.Sqrt(5.0 / 3), true}, // upper median
		{[]float64{5, 1, 9}, 5, 5, 4, true},
	}
	for _, c := range cases {
		keep := append([]float64(nil), c.x...)
		if got := median(c.x); got != c.med {
			t.Errorf("median(%v) = %g, want %g", c.x, got, c.med)
		}
		for i := range keep {
			if keep[i] != c.x[i] {
				t.Errorf("median sorted its argument")
			}
		}
		if m, sd := meanSD(c.x); math.Abs(m-c.m) > 1e-12 || math.Abs(sd-c.sd) > 1e-12 {
			t.Errorf("meanSD(%v) = %g, %g; want %g, %g", c.x, m, sd, c.m, c.sd)
		}
	}
	for _, c := range []struct{ n, want int }{{0, 0}, {39, 0}, {40, 1}, {100, 2}, {400, 10}} {
		if got := tailAt(c.n); got != c.want {
			t.Errorf("tailAt(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
