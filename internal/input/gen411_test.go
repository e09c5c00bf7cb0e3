package input

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
)

// A bare-metal amdgpu capture of the shape of a real bare-metal capture: Linux 4.11
// (amdgpu events upstream since 4.13, dma_fence), a VR compositor and
// its app at 90 Hz on gfx, kernel and user copies on sdma0 and sdma1,
// 3.5 s, recorded with trace-cmd record -e amdgpu -e dma_fence and
// printed by trace-cmd report (µs timestamps, the char * ring_name
// field as a bare address). Per-CPU buffers start apart (cpu3 1.2 s
// late): events of a CPU before its start are not in the file.
//
// Line formats, from the kernel sources:
//   - drivers/gpu/drm/amd/amdgpu/amdgpu_trace.h (4.11), amdgpu_cs_ioctl
//     and amdgpu_sched_run_job: "sched_job=%llu, timeline=%s, context=%u,
//     seqno=%u, ring_name=%s, num_ibs=%u" (ring_name a char *).
//   - include/trace/events/dma_fence.h: "driver=%s timeline=%s
//     context=%u seqno=%u".
//   - drivers/gpu/drm/amd/scheduler/sched_fence.c (4.11): driver
//     "amd_sched", timeline the scheduler's name, the scheduled fence on
//     the entity's fence_context, the finished one on fence_context+1;
//     gpu_scheduler.c signals the scheduled fence right after run_job.
//   - amdgpu_fence.c: hardware fences of driver "amdgpu" on the ring's
//     own context with a seqno space of their own.

type gen411Job struct {
	ring       int
	user       bool // queued by amdgpu_cs_ioctl (else a kernel job: run only)
	comm       string
	pid, cpu   int
	ctx        uint64 // finished-fence context
	seq, id    uint64
	queue, run int64 // ns
	start, end int64
	queueIn    bool // the amdgpu_cs_ioctl line is in the file
	submitIn   bool // queue or run line in the file
	finishedIn bool // the finished fence's line is in the file
}

type gen411Truth struct {
	jobs     []gen411Job
	rings    []string
	cpuStart []int64
	t0, tEnd int64
}

type gen411Line struct {
	t    int64
	cpu  int
	text string
}

func gen411(seed uint64) ([]byte, gen411Truth) {
	rng := rand.New(rand.NewPCG(seed, 411))
	const t0 = int64(630658_900_000_000) // ns
	const dur = int64(3_500_000_000)
	rings := []string{"gfx", "sdma0", "sdma1"}
	ringAddr := []string{"ffff91cb1ab1bdd0", "ffff91cb1ab1d170", "ffff91cb1ab1e510"}
	ringTask := []struct {
		comm string
		pid  int
	}{{"gfx", 198}, {"sdma0", 199}, {"sdma1", 200}}
	hwCtx := []uint64{0, 9, 10}
	hwSeq := []uint64{3802100, 1735000, 901200}
	cpuStart := []int64{t0, t0 + 20_000_000, t0 + 400_000_000, t0 + 1_200_000_000}
	type entity struct {
		ctx uint64 // finished context
		seq uint64
	}
	// Entities: the app's context (one entity per ring), the
	// compositor's, the kernel's buffer-move entity on sdma0 and sdma1.
	app := []*entity{{4929, 3100}, {4931, 210}, {4933, 95}}
	comp := []*entity{{5013, 18200}, {5015, 40}, {5017, 12}}
	kern := []*entity{nil, {123, 1734990}, {125, 900500}}
	var jobs []gen411Job
	nextID := uint64(3489600)
	add := func(ring int, user bool, comm string, pid, cpu int, e *entity, q int64, d int64) {
		e.seq++
		nextID++
		jobs = append(jobs, gen411Job{ring: ring, user: user, comm: comm, pid: pid, cpu: cpu, ctx: e.ctx, seq: e.seq, id: nextID, queue: q, start: d})
	}
	// 90 Hz frames: the app submits two gfx jobs and a copy on sdma1
	// every few frames; the compositor one gfx job late in the frame.
	for f := int64(0); ; f++ {
		ft := t0 + f*11_111_111 + rng.Int64N(300_000)
		if ft > t0+dur {
			break
		}
		cpu := []int{1, 3}[rng.IntN(2)]
		add(0, true, "RenderThread", 25155, cpu, app[0], ft, 2_500_000+rng.Int64N(1_500_000))
		add(0, true, "RenderThread", 25155, cpu, app[0], ft+150_000+rng.Int64N(100_000), 1_000_000+rng.Int64N(1_000_000))
		if f%3 == 0 {
			add(2, true, "RenderThread", 25155, cpu, app[2], ft+60_000, 80_000+rng.Int64N(120_000))
		}
		add(0, true, "vrcompositor", 1873, []int{0, 2}[rng.IntN(2)], comp[0], ft+7_800_000+rng.Int64N(400_000), 600_000+rng.Int64N(400_000))
		if f%9 == 4 {
			add(1, true, "vrcompositor", 1873, 2, comp[1], ft+5_000_000, 40_000+rng.Int64N(60_000))
		}
	}
	// Kernel copies (buffer moves, page-table updates) in bursts.
	for t := t0 + rng.Int64N(5_000_000); t < t0+dur; t += 2_000_000 + rng.Int64N(18_000_000) {
		r := 1 + rng.IntN(2)
		for k, n := 0, 1+rng.IntN(4); k < n; k++ {
			add(r, false, ringTask[r].comm, ringTask[r].pid, rng.IntN(4), kern[r], t+int64(k)*30_000, 15_000+rng.Int64N(150_000))
		}
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].queue < jobs[j].queue })
	// The scheduler runs a job soon after it is queued; the ring
	// executes its jobs in order.
	free := make([]int64, len(rings))
	lastRun := make([]int64, len(rings))
	var lines []gen411Line
	emit := func(t int64, cpu int, comm string, pid int, name, body string) {
		if t > t0+dur {
			return
		}
		lines = append(lines, gen411Line{t, cpu, fmt.Sprintf("%16s-%-5d [%03d] %d.%06d: %-21s %s", comm, pid, cpu, t/1e9, t%1e9/1000, name+":", body)})
	}
	inFile := func(t int64, cpu int) bool { return t >= cpuStart[cpu] && t <= t0+dur }
	for i := range jobs {
		j := &jobs[i]
		d := j.start
		j.run = j.queue + 20_000 + rng.Int64N(60_000)
		if !j.user {
			j.run = j.queue + 5_000 + rng.Int64N(10_000)
		}
		// The ring runs its jobs in the order the scheduler pushed them.
		j.run = max(j.run, lastRun[j.ring]+2_000)
		lastRun[j.ring] = j.run
		j.start = max(j.run+10_000, free[j.ring])
		j.end = j.start + d
		free[j.ring] = j.end
	}
	for i := range jobs {
		j := &jobs[i]
		r := j.ring
		body := func() string {
			return fmt.Sprintf("sched_job=%d, timeline=%s, context=%d, seqno=%d, ring_name=%s, num_ibs=%d", j.id, rings[r], j.ctx, j.seq, ringAddr[r], 1+j.seq%3)
		}
		if j.user {
			emit(j.queue, j.cpu, j.comm, j.pid, "amdgpu_cs_ioctl", body())
			j.queueIn = inFile(j.queue, j.cpu)
		}
		kcpu := []int{1, 3, 0}[r]
		if rng.IntN(5) == 0 {
			kcpu = rng.IntN(4)
		}
		emit(j.run, kcpu, ringTask[r].comm, ringTask[r].pid, "amdgpu_sched_run_job", body())
		j.submitIn = j.queueIn || inFile(j.run, kcpu)
		emit(j.run+3_000, kcpu, ringTask[r].comm, ringTask[r].pid, "dma_fence_signaled",
			fmt.Sprintf("driver=amd_sched timeline=%s context=%d seqno=%d", rings[r], j.ctx-1, j.seq))
		// The hardware fence (interrupt on whichever CPU), then the
		// finished fence from the scheduler's callback.
		icpu := rng.IntN(4)
		icomm, ipid := "<idle>", 0
		if rng.IntN(3) == 0 {
			icomm, ipid = "RenderThread", 25155
		}
		hwSeq[r]++
		emit(j.end, icpu, icomm, ipid, "dma_fence_signaled", fmt.Sprintf("driver=amdgpu timeline=%s context=%d seqno=%d", rings[r], hwCtx[r], hwSeq[r]))
		if r == 0 && rng.IntN(4) == 0 {
			// a VM flush's fence: hardware, no job of its own
			hwSeq[r]++
			emit(j.end+1_000, icpu, icomm, ipid, "dma_fence_signaled", fmt.Sprintf("driver=amdgpu timeline=%s context=%d seqno=%d", rings[r], hwCtx[r], hwSeq[r]))
		}
		fin := j.end + 2_000 + rng.Int64N(3_000)
		emit(fin, icpu, icomm, ipid, "dma_fence_signaled", fmt.Sprintf("driver=amd_sched timeline=%s context=%d seqno=%d", rings[r], j.ctx, j.seq))
		j.finishedIn = inFile(fin, icpu)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t < lines[j].t })
	var b bytes.Buffer
	fmt.Fprintf(&b, "cpus=%d\n", len(cpuStart))
	for _, l := range lines {
		if l.t < cpuStart[l.cpu] {
			continue
		}
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.Bytes(), gen411Truth{jobs: jobs, rings: rings, cpuStart: cpuStart, t0: t0, tEnd: t0 + dur}
}
