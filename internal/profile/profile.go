package profile

import (
	"fmt"
	"io"
	"time"

	"github.com/google/pprof/profile"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// The profile has two sample values, both in nanoseconds of trace time:
//
//	gpu_time  time with work outstanding (a ring's Busy), attributed to the
//	          tasks that submitted it
//	stalled   the part of gpu_time spent switched out (a ring's Stalled)
//
// Each sample's stack is, root first: the ring ("ring gfx"), the task
// ("glmark2 (1234)", or "(unknown task)" when the events name none), and
// the state: "running" (gpu_time − stalled) or "switched_out" (stalled).
// Guest-idle time is not GPU time: it is noted in the profile's comments.
//
// Tasks overlap on a ring (two tasks' jobs outstanding at once), so their
// own busy times can add up to more than the ring's: the ring's Busy and
// Stalled are split among its tasks in proportion to their own, and the
// profile's totals equal the analysis' per-ring totals exactly.

// Write writes s as a gzipped profile.proto to w.
func Write(w io.Writer, s *gaps.Snapshot) error {
	p := Build(s)
	if err := p.CheckValid(); err != nil {
		return fmt.Errorf("building profile: %w", err)
	}
	if err := p.Write(w); err != nil {
		return fmt.Errorf("writing profile: %w", err)
	}
	return nil
}

// Build turns s into a profile.
func Build(s *gaps.Snapshot) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "gpu_time", Unit: "nanoseconds"},
			{Type: "stalled", Unit: "nanoseconds"},
		},
		DefaultSampleType: "gpu_time",
		// TimeNanos stays 0: the trace clock is not wall-clock time
		// (pprof would print 1970); the span is in the comments.
		DurationNanos: s.End - s.Start,
		PeriodType:    &profile.ValueType{Type: "trace", Unit: "nanoseconds"},
		Period:        1,
		Comments: []string{
			fmt.Sprintf("gpuwatch: share %.4f, slice %v, period %v, VFs %d, mode %s, detected %v",
				s.Timeslice.ScheduleShare, s.Timeslice.Slice, s.Timeslice.Period, s.Timeslice.VFs, s.Timeslice.Mode, s.Timeslice.Detected),
			fmt.Sprintf("trace clock %.6f – %.6f s", float64(s.Start)/1e9, float64(s.End)/1e9),
		},
	}
	b := builder{p: p, funcs: map[string]*profile.Function{}, locs: map[string]*profile.Location{}}
	for _, r := range s.Rings {
		ringFrame := "ring " + r.Name
		type part struct {
			task          string
			busy, stalled int64
		}
		var parts []part
		var sumBusy, sumStalled int64
		for _, pr := range r.Processes {
			parts = append(parts, part{task: task(pr), busy: int64(pr.Busy), stalled: int64(pr.Stalled)})
			sumBusy += int64(pr.Busy)
			sumStalled += int64(pr.Stalled)
		}
		if len(parts) == 0 {
			parts = []part{{task: "(unknown task)", busy: 1, stalled: 1}}
			sumBusy, sumStalled = 1, 1
		}
		busy := split(int64(r.Busy), sumBusy, parts, func(p part) int64 { return p.busy })
		stalled := split(int64(r.Stalled), sumStalled, parts, func(p part) int64 { return p.stalled })
		for i, pt := range parts {
			st := min(stalled[i], busy[i])
			if run := busy[i] - st; run > 0 {
				b.sample([]int64{run, 0}, ringFrame, pt.task, "running")
			}
			if st > 0 {
				b.sample([]int64{st, st}, ringFrame, pt.task, "switched_out")
			}
		}
	}
	if s.GuestIdleTotal > 0 {
		p.Comments = append(p.Comments, fmt.Sprintf("guest idle in windows: %v", time.Duration(s.GuestIdleTotal)))
	}
	return p
}

// split divides total among parts in proportion to weight, exactly (the
// remainder goes to the last part).
func split[T any](total, sum int64, parts []T, weight func(T) int64) []int64 {
	out := make([]int64, len(parts))
	if total <= 0 || len(parts) == 0 {
		return out
	}
	if sum <= 0 {
		out[len(out)-1] = total
		return out
	}
	var given int64
	for i, pt := range parts {
		if i == len(parts)-1 {
			out[i] = total - given
			break
		}
		v := int64(float64(total) * float64(weight(pt)) / float64(sum))
		out[i] = v
		given += v
	}
	return out
}

func task(p gaps.ProcessStats) string {
	comm := p.Comm
	if comm == "" {
		comm = "(unknown task)"
	}
	if p.PID > 0 {
		return fmt.Sprintf("%s (%d)", comm, p.PID)
	}
	return comm
}

type builder struct {
	p     *profile.Profile
	funcs map[string]*profile.Function
	locs  map[string]*profile.Location
}

func (b *builder) loc(name string) *profile.Location {
	if l, ok := b.locs[name]; ok {
		return l
	}
	f := &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: name, SystemName: name}
	b.p.Function = append(b.p.Function, f)
	l := &profile.Location{ID: uint64(len(b.p.Location) + 1), Line: []profile.Line{{Function: f}}}
	b.p.Location = append(b.p.Location, l)
	b.locs[name] = l
	return l
}

// sample adds one sample; frames are given root first.
func (b *builder) sample(v []int64, frames ...string) {
	locs := make([]*profile.Location, len(frames))
	for i, f := range frames {
		locs[len(frames)-1-i] = b.loc(f)
	}
	b.p.Sample = append(b.p.Sample, &profile.Sample{Location: locs, Value: v})
}
