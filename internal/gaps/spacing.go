package gaps

import "math"

// spacing summarises the normal completion gaps: those with work
// outstanding throughout and shorter than the window threshold. In a
// saturating pipeline each is one job's service time.
type spacing struct {
	n    uint64
	mean float64 // ns
	// lenBiased is E[g²]/E[g]: the expected service time of the job that
	// straddles a switch-out (a long job is proportionally more likely to
	// be the one running when the VF is switched out).
	lenBiased float64
	sd        float64
}

func spacingBelow(h *gapHist, bin int) spacing {
	n, s, s2 := h.below(bin)
	if n == 0 || s == 0 {
		return spacing{n: n}
	}
	m := s / float64(n)
	v := s2/float64(n) - m*m
	return spacing{n: n, mean: m, lenBiased: s2 / s, sd: math.Sqrt(max(v, 0))}
}

// spacingInTurns is spacingBelow corrected for the turns' cut: a job
// longer than others is likelier to straddle a switch, where it is seen as
// part of a window and not as a gap, so the gaps inside turns of length
// slice under-represent long jobs by 1 − g/slice. Each bin is weighted
// back by 1/(1 − g/slice) (at most defaults.cutWeight). A slice of 0 leaves them
// as they are.
func spacingInTurns(h *gapHist, bin int, slice float64) spacing {
	if slice <= 0 {
		return spacingBelow(h, bin)
	}
	var n, s, s2 float64
	var cnt uint64
	for i := 0; i < bin && i < nbGap; i++ {
		c := h.count[i]
		if c == 0 {
			continue
		}
		m := h.sum[i] / float64(c)
		w := 1 / max(1-m/slice, 1/defaults.cutWeight)
		cnt += c
		n += float64(c) * w
		s += h.sum[i] * w
		s2 += h.sum2[i] * w
	}
	if n == 0 || s == 0 {
		return spacing{n: cnt}
	}
	m := s / n
	v := s2/n - m*m
	return spacing{n: cnt, mean: m, lenBiased: s2 / s, sd: math.Sqrt(max(v, 0))}
}
