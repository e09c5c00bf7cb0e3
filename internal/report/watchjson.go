package report

import (
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
)

// WatchJSON is one object of `gpuwatch watch --json`: the live run's
// counters, then the shapes of the analysis document (Doc). The last object
// of a run has Final set and carries the gaps histogram and the input.
type WatchJSON struct {
	Time            string           `json:"time"`
	UptimeSeconds   float64          `json:"uptime_seconds"`
	Source          string           `json:"source"`
	Events          uint64           `json:"events"`
	LostEvents      uint64           `json:"lost_events"`
	EventsPerSecond float64          `json:"events_per_second"`
	Span            JSONSpan         `json:"span"`
	Share           JSONShare        `json:"share"`
	Timeslice       JSONTimeslice    `json:"timeslice"`
	Recent          JSONTimeslice    `json:"recent"`
	ThresholdSecs   float64          `json:"threshold_seconds"`
	WindowsTotal    JSONWindowTotals `json:"windows_total"`
	Windows         []JSONWindow     `json:"windows"`
	Rings           []JSONRing       `json:"rings,omitempty"`
	Gaps            *JSONHistogram   `json:"gaps,omitempty"`
	Verdict         *JSONVerdict     `json:"verdict,omitempty"`
	Final           bool             `json:"final,omitempty"`
	Input           *JSONInput       `json:"input,omitempty"`
	// Warnings are the live run's current warnings (a push failing, no
	// scheduler event yet, the recording stopped).
	Warnings []string `json:"warnings,omitempty"`
	// Steal is the guest's steal time, beside the windows.
	Steal *WatchSteal `json:"steal,omitempty"`
}

// WatchSteal is the steal time of a live run, beside its windows: a vCPU
// the hypervisor descheduled delays the completions it would signal, and
// on the CPU taking the GPU's interrupt that looks like a switch-out.
type WatchSteal struct {
	// IRQCPU is the CPU that signalled most completions (-1: none yet).
	IRQCPU int `json:"irq_cpu"`
	// IRQCPUSeconds is that CPU's steal time since the run started.
	IRQCPUSeconds float64 `json:"irq_cpu_seconds"`
	// PerCPUSeconds is every CPU's, by CPU number.
	PerCPUSeconds []float64 `json:"per_cpu_seconds"`
}

func watchSteal(st live.Stats) *WatchSteal {
	if st.StealSeconds == nil {
		return nil
	}
	s := &WatchSteal{IRQCPU: st.IRQCPU, PerCPUSeconds: st.StealSeconds}
	if st.IRQCPU >= 0 && st.IRQCPU < len(st.StealSeconds) {
		s.IRQCPUSeconds = st.StealSeconds[st.IRQCPU]
	}
	return s
}

// Watch builds the watch object of snapshot s and run stats st at wall
// time now. exp may be nil.
func Watch(s *gaps.Snapshot, st live.Stats, exp *Expectation, final bool, now time.Time) *WatchJSON {
	a := Build(s, InputStats{Format: st.Source, Events: st.Events, Lost: st.Lost}, exp)
	d := a.Doc()
	o := &WatchJSON{
		Time:            now.UTC().Format(time.RFC3339Nano),
		UptimeSeconds:   st.Uptime.Seconds(),
		Source:          st.Source,
		Events:          st.Events,
		LostEvents:      st.Lost,
		EventsPerSecond: st.Rate,
		Span:            d.Span,
		Share:           d.Share,
		Timeslice:       d.Timeslice,
		Recent:          Timeslice(&s.Recent),
		ThresholdSecs:   d.ThresholdSeconds,
		WindowsTotal:    d.WindowsTotal,
		Windows:         d.Windows,
		Rings:           d.Rings,
		Verdict:         d.Verdict,
		Final:           final,
		Warnings:        st.Warnings,
		Steal:           watchSteal(st),
	}
	if final {
		o.Gaps = &d.Gaps
		o.Input = &d.Input
	}
	return o
}
