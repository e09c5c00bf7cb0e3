package gaps

import (
	"math"
	"testing"
)

func TestConfidence(t *testing.T) {
	if got := confidence([]factor{{"a", 0.5}, {"b", 0.5}}); got != 0.25 {
		t.Errorf("product of 0.5 and 0.5 = %g", got)
	}
	if got := confidence(nil); got != 1 {
		t.Errorf("no factor: %g", got)
	}
	if got := confidence([]factor{{"a", 3}}); got != 1 {
		t.Errorf("not clamped to 1: %g", got)
	}
	const ms = 1e6
	base := func(n int, j, sliceErr float64) float64 {
		return confidence(estimateFactors(n, 1, j, 1, 6*ms, sliceErr, 12.4*ms, 0.01*ms))
	}
	ref := base(100, 0.25*ms, 0.01*ms)
	cases := []struct {
		name string
		got  float64
	}{
		{"fewer windows", base(10, 0.25*ms, 0.01*ms)},
		{"longer jobs", base(100, 2*ms, 0.01*ms)},
		{"a slice known to 2 %", base(100, 0.25*ms, 0.12*ms)},
		{"half the completions matched", confidence(estimateFactors(100, 1, 0.25*ms, 0.5, 6*ms, 0.01*ms, 12.4*ms, 0.01*ms))},
		{"clusters not separated", confidence(estimateFactors(100, 0, 0.25*ms, 1, 6*ms, 0.01*ms, 12.4*ms, 0.01*ms))},
		{"a period known to 1 %", confidence(estimateFactors(100, 1, 0.25*ms, 1, 6*ms, 0.01*ms, 12.4*ms, 0.124*ms))},
	}
	if ref < 0.9 {
		t.Fatalf("100 windows, short jobs, tight errors: confidence %.3f", ref)
	}
	for _, c := range cases {
		if !(c.got < ref) || math.IsNaN(c.got) {
			t.Errorf("%s: confidence %.3f, want below %.3f", c.name, c.got, ref)
		}
	}
	if a, b := base(4, 0.25*ms, 0.01*ms), base(10, 0.25*ms, 0.01*ms); !(a < b) {
		t.Errorf("4 windows %.3f not below 10 windows %.3f", a, b)
	}
	if a, b := base(100, 3*ms, 0.01*ms), base(100, 1*ms, 0.01*ms); !(a < b) {
		t.Errorf("3 ms jobs %.3f not below 1 ms jobs %.3f", a, b)
	}
}
