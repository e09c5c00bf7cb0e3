package gaps

import "math"

// factor is one named factor of the confidence.
type factor struct {
	name string
	v    float64
}

// confidence is the product of its factors, each in [0, 1], clamped to
// [0, 1]. The factors, in the order infer applies them:
//
//   - lattice: the fraction of windows on the fixed lattice, or in
//     variable mode defaults.variable × the slot grid's inliers scaled
//     down with few busy turns (see inferVariable);
//   - consecutive: defaults.noConsecutive when no two consecutive turns
//     were seen busy (fixed mode);
//   - completions: defaults.fewComps when a turn holds fewer than
//     minTurnComps completions (median);
//   - evidence: 1 − exp(−windows/evidenceWindows);
//   - separation: 0.5 + 0.5·the gap histogram's cluster separation;
//   - resolvability: 1/(1 + resolveK·(job/slice)²), jobs short against
//     the slice;
//   - matched: the fraction of completions matched to a submission;
//   - slice error, period error: targetRel/relative error when it
//     exceeds targetRel (a number known to no better than ±1 % at two
//     standard errors is not a confident one).
func confidence(fs []factor) float64 {
	c := 1.0
	for _, f := range fs {
		c *= f.v
	}
	return math.Max(0, math.Min(1, c))
}

// estimateFactors are the factors every detected schedule gets, after
// those of its mode: n windows, cluster separation sep, straddling job j,
// matched fraction matchFrac.
func estimateFactors(n int, sep, j, matchFrac, slice, sliceErr, period, periodErr float64) []factor {
	t := &defaults
	r := j / slice
	fs := []factor{
		{"evidence", 1 - math.Exp(-float64(n)/t.evidenceWindows)},
		{"separation", 0.5 + 0.5*sep},
		{"resolvability", 1 / (1 + t.resolveK*r*r)},
		{"matched", min(1, matchFrac)},
	}
	if rel := sliceErr / slice; rel > t.targetRel {
		fs = append(fs, factor{"slice error", t.targetRel / rel})
	}
	if rel := periodErr / period; rel > t.targetRel {
		fs = append(fs, factor{"period error", t.targetRel / rel})
	}
	return fs
}
