package gaps

import "testing"

func TestObserve(t *testing.T) {
	// three windows: the second began busy with no idle since the first
	// (adjacent), the third after the guest idled (zeros moved on)
	ws := []cand{
		{start: 1000, end: 2000, anchored: true, compStart: 10, compEnd: 10, zeroStart: 0, zeroEnd: 0},
		{start: 5000, end: 6000, anchored: true, compStart: 19, compEnd: 19, zeroStart: 0, zeroEnd: 0},
		{start: 9000, end: 9500, anchored: true, compStart: 25, compEnd: 25, zeroStart: 1, zeroEnd: 1},
	}
	o, e0 := observe(ws)
	want := []obs{
		{s: -1000, e: 0, anchored: true},
		{s: 3000, e: 4000, anchored: true, adjacent: true, comps: 10},
		{s: 7000, e: 7500, anchored: true, comps: 7},
	}
	if e0 != 2000 {
		t.Errorf("e0 = %g, want 2000", e0)
	}
	for i := range want {
		if o[i] != want[i] {
			t.Errorf("window %d: %+v, want %+v", i, o[i], want[i])
		}
	}
}

func TestSaturating(t *testing.T) {
	mk := func(n, adj int) []obs {
		o := make([]obs, n)
		for i := 1; i <= adj; i++ {
			o[i].adjacent = true
		}
		return o
	}
	cases := []struct {
		name string
		o    []obs
		want bool
	}{
		{"all adjacent", mk(20, 19), true},
		{"80 % adjacent", mk(11, 8), true},
		{"70 % adjacent", mk(11, 7), false},
		{"too few windows", mk(7, 6), false},
	}
	for _, c := range cases {
		if got := saturating(c.o); got != c.want {
			t.Errorf("%s: saturating = %v, want %v", c.name, got, c.want)
		}
	}
}
