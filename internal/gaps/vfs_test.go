package gaps

import (
	"testing"
	"time"
)

func TestVFs(t *testing.T) {
	const ms = 1e6
	cases := []struct {
		name          string
		period, slice float64
		vfs           int
		cost          time.Duration
	}{
		{"2 VFs", 12.4 * ms, 6 * ms, 2, 200 * time.Microsecond},
		{"4 VFs", 12.8 * ms, 3 * ms, 4, 200 * time.Microsecond},
		{"16 VFs", 19.2 * ms, 1 * ms, 16, 200 * time.Microsecond},
		{"no switch cost", 12 * ms, 6 * ms, 2, 0},
		// the slice estimated a little long: N·slice exceeds the period
		{"slice a little over", 12.4 * ms, 6.25 * ms, 2, 0},
		// 5 fits with c < 0 within the slack, 4 with a typical 0.2 ms
		{"typical switch preferred", 4.8 * ms, 1 * ms, 4, 200 * time.Microsecond},
		{"alone", 6.2 * ms, 6 * ms, 0, 0},
		{"one and a half", 9 * ms, 6 * ms, 0, 0},
		{"no slice", 12.4 * ms, 0, 0, 0},
		{"more than maxVFs", 100 * ms, 1 * ms, 0, 0},
	}
	for _, c := range cases {
		n, cost := vfs(c.period, c.slice)
		if d := cost - c.cost; n != c.vfs || d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: vfs(%.1f ms, %.2f ms) = %d, %v; want %d, %v", c.name, c.period/ms, c.slice/ms, n, cost, c.vfs, c.cost)
		}
	}
}
