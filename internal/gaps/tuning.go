package gaps

import "time"

// tuning holds every tuned number of the schedule estimator (see doc.go
// and docs/inference.md for the model the steps apply). The steps read
// the package-level defaults. A field is a choice made against the
// accuracy grid (cmd/accuracy), not a fact about hosts: where it is a
// fact the field says so.
type tuning struct {
	// --- evidence (infer.go) ---

	// minWindows is the fewest switched-out windows a schedule is
	// inferred from (the confidence stays low near it).
	minWindows int
	// minNormalGaps is the fewest normal (in-turn) completion gaps needed
	// to estimate the job service time.
	minNormalGaps uint64
	// minMatchFrac is the least fraction of completions matched to a
	// submission: below it the outstanding work is unknown.
	minMatchFrac float64
	// maxJobFrac: the straddling job (length-biased) must be at most this
	// fraction of the median window, or a window is mostly job, not
	// off-time (the schedule and the measured share alike).
	maxJobFrac float64
	// busyAcrossFrac, busyAcrossMin: the guest saturates when at least
	// busyAcrossFrac of consecutive windows are adjacent (busy in
	// between) and there are at least busyAcrossMin windows, enough for
	// the order-statistic corrections' asymptotics.
	busyAcrossFrac float64
	busyAcrossMin  int

	// cutWeight bounds the weight spacingInTurns gives a job cut by the
	// turns (a job three quarters of the slice long is weighted 4×, a
	// longer one no more).
	cutWeight float64

	// --- finding the turns (turns.go, lattice.go) ---

	// subMultiples: trial periods are the low cluster of window spacings
	// divided by 1..subMultiples (turns the guest idled leave multiples).
	subMultiples int
	// tolJobs, tolMaxFrac, tolMinFrac make the lattice tolerance (see
	// tolerance): tolJobs straddling jobs, between tolMinFrac and
	// tolMaxFrac of the trial period.
	tolJobs, tolMaxFrac, tolMinFrac float64
	// distinctBase: a base from the long spacings is tried first when it
	// differs from the plain one by more than this fraction.
	distinctBase float64
	// minInliers is the least fraction of windows on a fixed lattice: a
	// third may be spurious (a guest vCPU or the tracer held up, delaying
	// completions), far above the fraction a lattice catches by chance
	// (2·tolerance/period, a few per cent). It also bounds a global fit
	// before the drifting (local) one is tried.
	minInliers float64
	// minMajorInliers is minInliers for the major windows of a guest
	// that was held up now and then: a hiccup that overlaps a turn start
	// delays that window's end off the lattice too.
	minMajorInliers float64
	// minSpan is the fewest turns a fixed lattice covers.
	minSpan int
	// minOneStep is the least fraction of consecutive busy windows one
	// period apart on a fixed lattice.
	minOneStep float64
	// maxWindowless is the largest fraction of the busy time between
	// consecutive windows that a fixed schedule may leave without a
	// window (a missed window here and there), see windowless.
	maxWindowless float64
	// windowlessStretch: busy stretches longer than this many periods
	// count toward windowless when the guest progressed more than
	// halfway between its fixed share and all the time.
	windowlessStretch float64
	// slotCheckInliers, slotInliers, slotGain: a fixed lattice holding
	// fewer than slotCheckInliers of the windows is a variable schedule's
	// slot grid when a whole fraction of its period holds slotInliers of
	// them and slotGain more than it.
	slotCheckInliers, slotInliers, slotGain float64
	// offSpreadTols: a fixed lattice's busy windows have lengths whose
	// interquartile range is within this many tolerances (offVaries).
	offSpreadTols float64
	// clusterQuantile, clusterBand: lowCluster takes the median of the
	// spacings within ±clusterBand of the 1/clusterQuantile quantile.
	clusterQuantile int
	clusterBand     float64
	// trackBand: while tracking, a step within this fraction of the
	// trial period (or the tolerance) stays on the lattice (the host's
	// jitter rides on each step).
	trackBand float64
	// reanchorMisses: this many windows off the tracked lattice in a row
	// re-anchor the tracking (the anchor itself may have been spurious).
	reanchorMisses int
	// fitIters is the number of fit / re-index rounds of fitLattice.
	fitIters int
	// driftTracked: turns drift (local fit) when the tracking held at
	// least this fraction of the windows but no global line minInliers.
	driftTracked float64
	// envelopeSEs: the lower envelope's slope replaces least squares when
	// within this many of its standard errors.
	envelopeSEs float64
	// slopeBlocks is how many consecutive blocks blockSlopeSE cuts the
	// windows into, each with at least minBlock windows.
	slopeBlocks, minBlock int

	// --- classifying windows (classify.go) ---

	// majorQuantile (per cent): windows at least majorFrac times as long
	// as this quantile of the lengths are major.
	majorQuantile int
	majorFrac     float64
	// hiccupBurst, hiccupSpacing: a minor window is a hiccup when the
	// hiccupBurst completions after it come within hiccupBurst ×
	// hiccupSpacing normal spacings (delivered in a burst).
	hiccupBurst   int
	hiccupSpacing float64
	// lateBurst, lateSpacing: an edge is late (set by a burst of
	// completions delivered late, not the switch) when lateBurst
	// completions lie within lateBurst × lateSpacing normal spacings of it.
	lateBurst   int
	lateSpacing float64
	// lateWindows: late edges are taken out only when at least one window
	// in lateWindows has one (a guest held up again and again); fewer are
	// chance (short jobs in a row).
	lateWindows int

	// --- the off-time (offtime.go) ---

	// tail is the extremes' quantile divisor: the 1/tail (2.5 %) lowest
	// end and highest start stand for the extremes, passed over only
	// among at least tailSkipMin values (one late window would set them).
	tail, tailSkipMin int
	// coreMin, coreJobs, coreMADs: robustCore, on at least coreMin
	// lengths, drops those farther from the median than coreJobs
	// straddling jobs or coreMADs median absolute deviations.
	coreMin            int
	coreJobs, coreMADs float64
	// agreeSE, agreeSESaturating: the extremes and the mean agree within
	// this many of the mean's standard errors (more where the guest
	// saturates: the mean's straddling-job model holds less exactly).
	agreeSE, agreeSESaturating float64
	// extJobs, extSEs: the extremes are trusted only when their spread
	// is at most extJobs straddling jobs plus extSEs mean errors.
	extJobs, extSEs float64
	// lockedMin, lockedIQR, lockedGapMin, lockedGapMax: jobs are
	// phase-locked to the slice when at least lockedMin windows have an
	// interquartile range below lockedIQR jobs and the median gap lies
	// between lockedGapMin and lockedGapMax jobs.
	lockedMin                  int
	lockedIQR                  float64
	lockedGapMin, lockedGapMax float64
	// edgeDecile, edgeMin, edgeRenewals, edgeRes: sharpEdge compares the
	// m = max(n/edgeDecile, edgeMin) lowest residuals' rise with
	// edgeRenewals times the renewal spread plus edgeRes ns (timestamp
	// resolution: microseconds in report text, two per window).
	edgeDecile, edgeMin int
	edgeRenewals        float64
	edgeRes             float64
	// outagePeriods: a window longer than this many periods is an outage,
	// across which the round robin's phase may jump.
	outagePeriods float64
	// rigidSpread: a lattice is rigid (its grid read for each window's
	// off-time) when the middle 80 % of the window ends' residuals span at
	// most this many straddling jobs (an exponential job's remainder: 1.1).
	rigidSpread float64
	// framesQuantile (per cent): frame-paced windows' off-time is this
	// quantile of their lengths less one job.
	framesQuantile int

	// --- the slice (slice.go) ---

	// phaseCut: a completion phase beyond the slice plus this fraction of
	// the off-time belongs to the next turn.
	phaseCut float64
	// apartJobs, apartDecile: latest phases standing more than apartJobs
	// jobs above the next are late deliveries, at most 1/apartDecile of
	// the turns.
	apartJobs   float64
	apartDecile int
	// raiseJobs: the completion phases raise the slice by at most this
	// many jobs.
	raiseJobs float64
	// maxJobSlice: jobs longer than this fraction of the slice cannot
	// resolve it.
	maxJobSlice float64
	// gridMargin (ns) widens a grid's turn starts beyond the slice error
	// (timestamp resolution and rounding).
	gridMargin float64

	// --- variable mode (variable.go) ---

	// minSlotWindows: a slot grid rests on at least this many windows
	// (with fewer, some trial slot always fits).
	minSlotWindows int
	// slotSubMultiples: trial slots are the base divided by
	// 2..slotSubMultiples, no shorter than minSlotJobs straddling jobs.
	slotSubMultiples int
	minSlotJobs      float64
	// slotGridInliers, minSlotSpan, minSlotStep: a slot grid holds
	// slotGridInliers of the windows, spans minSlotSpan slots and has
	// consecutive busy windows at least minSlotStep slots apart (else it
	// is a fixed lattice).
	slotGridInliers float64
	minSlotSpan     int
	minSlotStep     float64
	// minSliceStarts: the slot's slice needs this many anchored windows.
	minSliceStarts int
	// minBusyTurns: the turn-to-turn time needs this many busy turns.
	minBusyTurns float64
	// turnsHalf: a variable fit's confidence is halved at this many busy
	// turns (inliers·turns/(turns+turnsHalf)).
	turnsHalf float64

	// --- whole quanta (quanta.go) ---

	// quantaInliers: turns are whole multiples of one quantum when this
	// fraction of them lies within tolerance of one.
	quantaInliers float64
	// quantaIters: refinements of the quantum (multiples, then least
	// squares over the turns that fit).
	quantaIters int
	// minExtended: turns of two quanta or more needed before the fit
	// tells whole quanta (liquid) from turns that paid a switch per
	// quantum (a skipping host switching straight back).
	minExtended float64
	// hiddenSwitchSEs: an intercept this many standard errors below 0
	// (and beyond the timestamps' resolution) is a switch per quantum.
	hiddenSwitchSEs float64

	// --- VF count (vfs.go) ---

	// vfsSlack: the slice estimate may run a little over Period/N.
	vfsSlack float64
	// typicalSwitch is a typical world switch (~0.2 ms on MxGPU, ns): of
	// the VF counts whose switch cost is within maxSwitchFrac of the
	// slice, the one closest to it is taken.
	typicalSwitch float64
	maxSwitchFrac float64

	// --- confidence (confidence.go) ---

	// evidenceWindows: the evidence factor is 1 − exp(−windows/evidenceWindows).
	evidenceWindows float64
	// resolveK: the resolvability factor is 1/(1 + resolveK·(job/slice)²).
	resolveK float64
	// targetRel: a slice or period known to worse than this relative
	// error scales the confidence by targetRel/error (gpuwatch's targets
	// are 1 %, two standard errors).
	targetRel float64
	// noConsecutive, variable, fewComps: factors for a fixed schedule with
	// no two consecutive busy turns, for variable mode, and for fewer than
	// minTurnComps completions per turn (median).
	noConsecutive, variable, fewComps float64
	minTurnComps                      float64
	// fewWindows: fewer windows are noted in the reason.
	fewWindows int

	// --- no schedule (assemble.go) ---

	// longJobsComps: busy stretches in the upper gap cluster with, on
	// median, fewer completions than this between them are long jobs
	// back to back, not windows (a turn holds many completions).
	longJobsComps float64
	// longSpacing: a median completion spacing with work waiting this
	// long (a typical host slice) hides switch-outs, and the reason says
	// so.
	longSpacing time.Duration

	// share holds the thresholds of the measured share (share.go).
	share shareTuning
}

// shareTuning holds the thresholds of the measured share.
type shareTuning struct {
	// minWindows is the fewest windows a share with switch-outs rests on:
	// fewer cover too few turns to stand for the host's schedule.
	minWindows int
	// minGaps is the fewest completion gaps with work outstanding that a
	// passthrough verdict (no window at all) rests on.
	minGaps uint64
	// minOffTime is the shortest off-time a host gives: 1 ms (NVIDIA's
	// shortest slice is 1 ms, so with two or more VFs the VF is off at
	// least that long; MxGPU's shortest quantum is 4 ms). A fact.
	minOffTime time.Duration
	// minFirst is the fewest idle-started stretches whose mean stands for
	// the first completion after a switch-in (firstDelay).
	minFirst int
}

// maxVFs bounds the VF count: SR-IOV GPUs expose at most a few dozen (a
// fact, not tuned).
const maxVFs = 64

// defaults is the tuning the engine runs with.
var defaults = tuning{
	minWindows:     3,
	minNormalGaps:  8,
	minMatchFrac:   0.5,
	maxJobFrac:     0.35,
	busyAcrossFrac: 0.8,
	busyAcrossMin:  8,
	cutWeight:      4,

	subMultiples:      4,
	tolJobs:           2,
	tolMaxFrac:        0.2,
	tolMinFrac:        0.02,
	distinctBase:      0.02,
	minInliers:        0.6,
	minMajorInliers:   0.5,
	minSpan:           3,
	minOneStep:        0.9,
	maxWindowless:     0.05,
	windowlessStretch: 1.5,
	slotCheckInliers:  0.85,
	offSpreadTols:     2,
	slotInliers:       0.9,
	slotGain:          0.15,
	clusterQuantile:   5,
	clusterBand:       0.25,
	trackBand:         0.1,
	reanchorMisses:    3,
	fitIters:          5,
	driftTracked:      0.8,
	envelopeSEs:       3,
	slopeBlocks:       4,
	minBlock:          4,

	majorQuantile: 90,
	majorFrac:     0.5,
	hiccupBurst:   4,
	hiccupSpacing: 0.5,
	lateBurst:     6,
	lateSpacing:   0.35,
	lateWindows:   10,

	tail:              40,
	tailSkipMin:       16,
	coreMin:           8,
	coreJobs:          3,
	coreMADs:          4,
	agreeSE:           2,
	agreeSESaturating: 3,
	extJobs:           0.25,
	extSEs:            2,
	lockedMin:         8,
	lockedIQR:         0.1,
	lockedGapMin:      0.7,
	lockedGapMax:      1.3,
	edgeDecile:        10,
	edgeMin:           4,
	edgeRenewals:      3,
	edgeRes:           2e3,
	rigidSpread:       1.5,
	outagePeriods:     3,
	framesQuantile:    90,

	phaseCut:    0.5,
	apartJobs:   0.25,
	apartDecile: 10,
	raiseJobs:   2,
	maxJobSlice: 0.75,
	gridMargin:  10e3,

	minSlotWindows:   8,
	slotSubMultiples: 16,
	minSlotJobs:      4,
	slotGridInliers:  0.85,
	minSlotSpan:      6,
	minSlotStep:      2,
	minSliceStarts:   3,
	minBusyTurns:     3,
	turnsHalf:        20,

	quantaInliers:   0.85,
	quantaIters:     4,
	minExtended:     3,
	hiddenSwitchSEs: 3,

	vfsSlack:      0.25,
	typicalSwitch: 0.2e6,
	maxSwitchFrac: 0.3,

	evidenceWindows: 8,
	resolveK:        8,
	targetRel:       0.005,
	noConsecutive:   0.8,
	variable:        0.8,
	fewComps:        0.6,
	minTurnComps:    3,
	fewWindows:      8,

	longJobsComps: 3,
	longSpacing:   2 * time.Millisecond,

	share: shareTuning{
		minWindows: 8,
		minGaps:    100,
		minOffTime: time.Millisecond,
		minFirst:   30,
	},
}
