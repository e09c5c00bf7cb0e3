package reporttext

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	Gen tracepoint.Generation
	// Nanoseconds prints times with 9 fraction digits (trace-cmd report -t);
	// otherwise microseconds, rounded as trace-cmd rounds them.
	Nanoseconds bool
	// Instance, if set, prefixes every line with "Instance: " as trace-cmd
	// report does for a buffer instance.
	Instance string
	// CPUs is the "cpus=N" header value; 0 means 1.
	CPUs int
	// Dev is the device name printed in dev=%s fields (Gen617);
	// "" means "0000:00:00.0".
	Dev string
}

// Writer writes events as `trace-cmd report` (trace-cmd 3.x) prints
// them for one tracepoint generation. Everything it writes reads back
// through Reader to the same events, up to what the generation's
// formats cannot carry (see Write).
type Writer struct {
	w       *bufio.Writer
	opt     WriterOptions
	started bool
	err     error
	buf     []byte
	vals    []fieldValue
	skipped int
}

// NewWriter returns a writer of report text to w.
func NewWriter(w io.Writer, opt WriterOptions) *Writer {
	if opt.CPUs <= 0 {
		opt.CPUs = 1
	}
	if opt.Dev == "" {
		opt.Dev = "0000:00:00.0"
	}
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), opt: opt}
}

// Skipped is the number of events Write dropped because the generation has
// no tracepoint for their kind (e.g. KindRun before 4.16).
func (t *Writer) Skipped() int { return t.skipped }

// specFor picks the tracepoint that reports ev in generation g: the one
// ev.Name names when it is a dma_fence, fence or amdgpu event of ev.Kind
// (printed in the generation's form), otherwise the generation's scheduler
// event for ev.Kind.
func specFor(g tracepoint.Generation, ev *event.Event) (*printkFormat, bool) {
	name := ev.Name
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	switch name {
	case "dma_fence_emit", "dma_fence_signaled", "fence_emit", "fence_signaled":
		if fs := printkFormats[name]; len(fs) > 0 && fs[0].spec.Kind == ev.Kind {
			return fs[0], true
		}
	}
	switch name {
	case "amdgpu_cs_ioctl", "amdgpu_sched_run_job":
		// amdgpu's own events, in the form of the generation's kernels
		// (see amdgpuJobFormats): 6.17+ or 4.10–6.16.
		if fs := printkFormats[name]; len(fs) == 4 && fs[0].spec.Kind == ev.Kind {
			if g == tracepoint.Gen617 {
				return fs[0], true
			}
			return fs[2], true
		}
	}
	var ev2 string
	if int(g) < len(eventByKind) && int(ev.Kind) < event.NumKinds {
		ev2 = eventByKind[g][ev.Kind]
	}
	fs := printkFormats[ev2]
	if len(fs) == 0 {
		return nil, false
	}
	return fs[0], true
}

// SynthFence is the fence address the writer prints for a job that the
// event names by context:seqno only (a ≤ 6.16 format needs an address). It
// is deterministic and distinct for context < 2^13, seqno < 2^28.
func SynthFence(context, seqno uint64) uint64 {
	return 0xffff_8000_0000_0000 | (context&0x1fff)<<34 | (seqno&0x0fff_ffff)<<6
}

// SynthContextSeqno is the context:seqno the writer prints for a job
// that the event names by fence address only (a 6.17 format needs them).
// For a 64-byte aligned kernel address it inverts SynthFence (so
// context:seqno → address → context:seqno is the identity); any other
// address is split into its high and low 32 bits.
func SynthContextSeqno(fence uint64) (context, seqno uint64) {
	if fence>>47 == 0x1ffff && fence&0x3f == 0 {
		return (fence >> 34) & 0x1fff, (fence >> 6) & 0x0fff_ffff
	}
	return fence >> 32, fence & 0xffff_ffff
}

func jobFence(k event.JobKey) uint64 {
	if k.Fence != 0 || k.IsZero() {
		return k.Fence
	}
	return SynthFence(k.Context, k.Seqno)
}

func jobCtxSeq(k event.JobKey) (uint64, uint64) {
	if k.Fence != 0 && k.Context == 0 && k.Seqno == 0 {
		return SynthContextSeqno(k.Fence)
	}
	return k.Context, k.Seqno
}

// synthEntity is the entity address printed when an event has none: one
// per ring, deterministic.
func synthEntity(ring string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ring); i++ {
		h ^= uint64(ring[i])
		h *= 1099511628211
	}
	return 0xffff_8881_0000_0000 | (h&0xffff)<<10
}

func jobCount32(n int32) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// value is the value of field arg of ev in the writer's output.
func (t *Writer) value(f *printkFormat, arg string, ev *event.Event) fieldValue {
	ctx, seq := jobCtxSeq(ev.Job)
	// The model does not carry a dependency's identity: the writer prints
	// the job's predecessor on its own timeline.
	depSeq := seq
	if depSeq > 0 {
		depSeq--
	}
	switch arg {
	case "entity":
		if ev.Entity != 0 {
			return fieldValue{num: ev.Entity}
		}
		return fieldValue{num: synthEntity(ev.Ring)}
	case "sched_job":
		return fieldValue{num: jobFence(ev.Job) + 0x1000}
	case "fence":
		if f.spec.Event == "drm_sched_job_wait_dep" {
			return fieldValue{num: SynthFence(ctx, depSeq)}
		}
		return fieldValue{num: jobFence(ev.Job)}
	case "id", "sched_job_id":
		return fieldValue{num: ev.ID}
	case "name", "timeline", "ring", "ring_name":
		return fieldValue{str: ev.Ring}
	case "job_count":
		return fieldValue{num: jobCount32(ev.JobCount)}
	case "hw_job_count":
		return fieldValue{num: jobCount32(ev.HWJobCount)}
	case "dev":
		return fieldValue{str: t.opt.Dev}
	case "fence_context":
		return fieldValue{num: ctx}
	case "fence_seqno":
		return fieldValue{num: seq}
	case "client_id":
		return fieldValue{num: 1}
	case "ctx":
		return fieldValue{num: ctx}
	case "seqno":
		if f.spec.Kind == event.KindDep || f.spec.Kind == event.KindUnschedulable {
			return fieldValue{num: depSeq}
		}
		return fieldValue{num: seq}
	case "context":
		return fieldValue{num: ctx}
	case "driver":
		if ev.Driver != "" {
			return fieldValue{str: ev.Driver}
		}
		return fieldValue{str: "drm_sched"}
	case "num_ibs":
		return fieldValue{num: 1}
	}
	return fieldValue{}
}

// begin writes the header before the first line; it returns the sticky
// error.
func (t *Writer) begin() error {
	if t.err == nil && !t.started {
		t.header()
	}
	return t.err
}

func (t *Writer) header() {
	t.started = true
	// trace-cmd 3.1.6 `report` of an extracted instance prints "cpus=N"
	// alone (no "version = N", no buffer prefix): see
	// testdata/report/real_316_norm.txtar.
	b := append(t.buf[:0], "cpus="...)
	b = strconv.AppendInt(b, int64(t.opt.CPUs), 10)
	b = append(b, '\n')
	t.buf = b
	_, t.err = t.w.Write(b)
}

func (t *Writer) appendPrefix(b []byte) []byte {
	if t.opt.Instance != "" {
		b = append(b, t.opt.Instance...)
		b = append(b, ": "...)
	}
	return b
}

// Write writes one event as one line, exactly as trace-cmd report prints
// the tracepoint that reports ev.Kind in the writer's generation:
//
//	%16s-%-5d [%03d] %5llu.%06llu: %s: <name padded to 20> <TP_printk body>
//
// KindLost becomes "CPU:N [M EVENTS DROPPED]". Fields a format needs but ev
// lacks are synthesized deterministically (SynthFence,
// SynthContextSeqno); kinds the generation has no tracepoint for are
// dropped and counted in Skipped.
func (t *Writer) Write(ev event.Event) error {
	if err := t.begin(); err != nil {
		return err
	}
	b := t.appendPrefix(t.buf[:0])
	if ev.Kind == event.KindLost {
		b = append(b, "CPU:"...)
		b = strconv.AppendInt(b, int64(ev.CPU), 10)
		b = append(b, " ["...)
		b = strconv.AppendUint(b, ev.Count, 10)
		b = append(b, " EVENTS DROPPED]\n"...)
		t.buf = b
		_, t.err = t.w.Write(b)
		return t.err
	}
	f, ok := specFor(t.opt.Gen, &ev)
	if !ok {
		t.skipped++
		return nil
	}
	comm := ev.Comm
	if comm == "" {
		comm = "<...>"
	}
	b = padTo(b, 16-len(comm))
	b = append(b, comm...)
	b = append(b, '-')
	n0 := len(b)
	b = strconv.AppendInt(b, int64(ev.PID), 10)
	b = padTo(b, 5-(len(b)-n0))
	b = append(b, " ["...)
	cpu := ev.CPU
	if cpu < 0 {
		cpu = 0
	}
	b = appendZeroPad(b, uint64(cpu), 3)
	b = append(b, "] "...)
	b = t.appendTime(b, ev.Time)
	b = append(b, ": "...)
	b = append(b, f.spec.Event...)
	b = append(b, ": "...)
	b = padTo(b, 20-len(f.spec.Event))
	vals := t.vals[:0]
	for _, sg := range f.segs {
		vals = append(vals, t.value(f, sg.arg, &ev))
	}
	t.vals = vals
	b = f.appendFormat(b, vals)
	b = append(b, '\n')
	t.buf = b
	_, t.err = t.w.Write(b)
	return t.err
}

// appendTime prints ns as libtraceevent's print_event_time does for
// trace-cmd's "%6.1000d" (µs, rounded) or "%9.1d" (ns, -t): "%5llu.%0*llu"
// once the value exceeds one second, else "%12llu" of the scaled value.
func (t *Writer) appendTime(b []byte, ns int64) []byte {
	if ns < 0 {
		ns = 0
	}
	v := uint64(ns)
	prec := 9
	p10 := uint64(1_000_000_000)
	if !t.opt.Nanoseconds {
		v = (v + 500) / 1000
		prec = 6
		p10 = 1_000_000
	}
	if v <= p10 {
		n0 := len(b)
		b = strconv.AppendUint(b, v, 10)
		return rightAlign(b, n0, 12)
	}
	n0 := len(b)
	b = strconv.AppendUint(b, v/p10, 10)
	b = rightAlign(b, n0, 5)
	b = append(b, '.')
	return appendZeroPad(b, v%p10, prec)
}

// appendZeroPad appends v in decimal, zero-padded to width digits.
func appendZeroPad(b []byte, v uint64, width int) []byte {
	n := 1
	for x := v; x >= 10; x /= 10 {
		n++
	}
	for ; n < width; n++ {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, v, 10)
}

// rightAlign pads b[n0:] on the left with spaces to width w.
func rightAlign(b []byte, n0, w int) []byte {
	d := len(b) - n0
	if d >= w {
		return b
	}
	pad := w - d
	b = append(b, "            "[:pad]...)
	copy(b[n0+pad:], b[n0:n0+d])
	for i := 0; i < pad; i++ {
		b[n0+i] = ' '
	}
	return b
}

func padTo(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// Flush writes the header if nothing was written yet, then flushes.
func (t *Writer) Flush() error {
	if err := t.begin(); err != nil {
		return err
	}
	t.err = t.w.Flush()
	return t.err
}

// eventByKind names, per generation, the tracepoint that reports each
// kind of job event ("" where the generation has none).
var eventByKind = [...][event.NumKinds]string{
	tracepoint.GenAMD: {
		event.KindQueue: "amd_sched_job",
		event.KindDone:  "amd_sched_process_job",
		event.KindEmit:  "dma_fence_emit",
	},
	tracepoint.GenDRM: {
		event.KindQueue: "drm_sched_job",
		event.KindRun:   "drm_run_job",
		event.KindDone:  "drm_sched_process_job",
		event.KindDep:   "drm_sched_job_wait_dep",
		event.KindEmit:  "dma_fence_emit",
	},
	tracepoint.Gen617: {
		event.KindQueue:         "drm_sched_job_queue",
		event.KindRun:           "drm_sched_job_run",
		event.KindDone:          "drm_sched_job_done",
		event.KindDep:           "drm_sched_job_add_dep",
		event.KindUnschedulable: "drm_sched_job_unschedulable",
		event.KindEmit:          "dma_fence_emit",
	},
}
