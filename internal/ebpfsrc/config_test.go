package ebpfsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/bpf"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Format files of the scheduler events as the kernel prints them, derived
// from TP_STRUCT__entry in drivers/gpu/drm/scheduler/gpu_scheduler_trace.h
// (4.16–6.16 drm_sched_job class, as internal/ftrace/testdata/format/
// drm_run_job.format) and the 4.16 original whose name was a const char *.
const (
	fmtDRMRunJob = `name: drm_run_job
ID: 1234
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:struct drm_sched_entity * entity;	offset:8;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:16;	size:8;	signed:0;
	field:__data_loc char[] name;	offset:24;	size:4;	signed:0;
	field:uint64_t id;	offset:32;	size:8;	signed:0;
	field:u32 job_count;	offset:40;	size:4;	signed:0;
	field:int hw_job_count;	offset:44;	size:4;	signed:1;

print fmt: "entity=%p, id=%llu, fence=%p, ring=%s, job count:%u, hw job count:%d", REC->entity, REC->id, REC->fence, __get_str(name), REC->job_count, REC->hw_job_count
`
	fmtDRMSchedJobPtr = `name: drm_sched_job
ID: 1235
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:struct drm_sched_entity * entity;	offset:8;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:16;	size:8;	signed:0;
	field:const char * name;	offset:24;	size:8;	signed:0;
	field:uint64_t id;	offset:32;	size:8;	signed:0;
	field:u32 job_count;	offset:40;	size:4;	signed:0;
	field:int hw_job_count;	offset:44;	size:4;	signed:1;

print fmt: "entity=%p, id=%llu, fence=%p, ring=%s, job count:%u, hw job count:%d", REC->entity, REC->id, REC->fence, REC->name, REC->job_count, REC->hw_job_count
`
)

func writeFormat(t *testing.T, root, system, name, text string) {
	t.Helper()
	dir := filepath.Join(root, "events", system, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "format"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromFormat(t *testing.T) {
	root := t.TempDir()
	writeFormat(t, root, "gpu_scheduler", "drm_run_job", fmtDRMRunJob)
	writeFormat(t, root, "gpu_scheduler", "drm_sched_job", fmtDRMSchedJobPtr)
	ms := KnownMappings(root)
	if len(ms) != 2 {
		t.Fatalf("KnownMappings found %d events, want 2", len(ms))
	}
	f := func(off, size, mode, sign int) bpf.GpuwatchField {
		return bpf.GpuwatchField{Off: uint16(off), Size: uint8(size), Mode: uint8(mode), Sign: uint8(sign)}
	}
	for _, tc := range []struct {
		event string
		kind  event.Kind
		ring  bpf.GpuwatchField
		track uint8
	}{
		{"drm_run_job", event.KindRun, f(24, 4, fDataLoc, 0), 1},
		{"drm_sched_job", event.KindQueue, f(24, 8, fPtr, 0), 0},
	} {
		spec, _ := tracepoint.Lookup("gpu_scheduler", tc.event)
		cfg, err := buildConfig(root, 3, &Mapping{System: "gpu_scheduler", Event: tc.event, Spec: *spec})
		if err != nil {
			t.Fatal(err)
		}
		want := bpf.GpuwatchEvcfg{Kind: uint8(tc.kind), Idx: 3, Track: tc.track}
		want.F[fiRing] = tc.ring
		want.F[fiFence] = f(16, 8, fInt, 0)
		want.F[fiID] = f(32, 8, fInt, 0)
		want.F[fiEntity] = f(8, 8, fInt, 0)
		want.F[fiJobCount] = f(40, 4, fInt, 0)
		want.F[fiHWJobCount] = f(44, 4, fInt, 1)
		if cfg != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.event, cfg, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	root := t.TempDir()
	writeFormat(t, root, "gpu_scheduler", "drm_run_job", fmtDRMRunJob)
	spec, _ := tracepoint.Lookup("gpu_scheduler", "drm_run_job")
	for _, tc := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{System: "gpu_scheduler", Event: "drm_run_job", Spec: *spec, Filter: "name"}, "string where an integer is expected"},
		{Mapping{System: "gpu_scheduler", Event: "nope", Spec: *spec}, "reading format of gpu_scheduler:nope"},
	} {
		_, err := buildConfig(root, 0, &tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.m, err, tc.want)
		}
	}
	bad := strings.Replace(fmtDRMRunJob, "field:u32 job_count;\toffset:40;\tsize:4;", "field:u32 job_count;\toffset:40;\tsize:3;", 1)
	writeFormat(t, root, "gpu_scheduler", "drm_run_job", bad)
	if _, err := buildConfig(root, 0, &Mapping{System: "gpu_scheduler", Event: "drm_run_job", Spec: *spec}); err == nil || !strings.Contains(err.Error(), "size 3") {
		t.Errorf("3-byte integer: %v", err)
	}
}
