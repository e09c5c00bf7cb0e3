//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// gpuwatch: one tracepoint program attached to every GPU scheduler
// tracepoint. The layout of each event comes from its tracefs "format" file
// at load time (config map, keyed by the attach cookie), so one object
// serves every kernel generation. See /work/team/readme/ebpf.md.

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual BSD/GPL";

#define RING_LEN 32
#define COMM_LEN 16
#define MAX_CFG 64
#define WAKE_BYTES (256 * 1024)
#define HIST_BUCKETS 48

// Field modes.
#define F_ABSENT 0
#define F_INT 1     // integer of 1, 2, 4 or 8 bytes, little endian
#define F_DATALOC 2 // __data_loc: u32 (len << 16 | offset from record start)
#define F_ARRAY 3   // inline char[N]
#define F_PTR 4     // const char * pointing to a kernel string
#define F_NUM 5     // integer shown as a number (tests: ring chosen by fd)

// Event kinds: the values of event.Kind.
#define K_QUEUE 1
#define K_RUN 2
#define K_DONE 3

struct field {
	__u16 off;  // offset in the record (>= 8)
	__u8 size;  // bytes (int) or array length
	__u8 mode;  // F_*
	__u8 sign;  // sign-extend ints
	__u8 pad[3];
};

enum {
	FI_RING,
	FI_FENCE,
	FI_CONTEXT,
	FI_SEQNO,
	FI_ID,
	FI_ENTITY,
	FI_JOB_COUNT,
	FI_HW_JOB_COUNT,
	FI_FILTER,
	FI_NUM,
};

struct evcfg {
	struct field f[FI_NUM];
	__u64 filter_val; // event taken only when f[FI_FILTER] == filter_val
	__u32 tgid;       // 0: any process
	__u8 kind;
	__u8 idx;
	__u8 nalt;  // configs cookie..cookie+nalt-1 share this tracepoint (set in the first)
	__u8 track; // feeds the per-ring state (the scheduler's own run/done events only)
};

#define MAX_ALT 4

struct rec {
	__u64 ts;
	__u32 cpu;
	__u32 pid;
	__u8 kind;
	__u8 idx;
	__u8 ring_num; // ring holds a little-endian u64, not text
	__u8 pad[5];
	__u64 fence;
	__u64 context;
	__u64 seqno;
	__u64 id;
	__u64 entity;
	__s32 job_count;
	__s32 hw_job_count;
	char ring[RING_LEN];
	char comm[COMM_LEN];
};

struct ringstate {
	__u64 last_done;  // ts of the last completion
	__u64 busy_since; // ts work became outstanding again after idle
	__s64 inflight;
	__u64 done;
	__u64 hist[HIST_BUCKETS]; // log2(ns) of completion gaps while busy
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CFG);
	__type(key, __u32);
	__type(value, struct evcfg);
} configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct ringstate);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);   // job key: fence, or context ^ seqno hash
	__type(value, __u64); // ring key
} jobs SEC(".maps");

// Force the generated Go types.
const struct rec *unused_rec __attribute__((unused));
const struct evcfg *unused_evcfg __attribute__((unused));
const struct ringstate *unused_ringstate __attribute__((unused));

static __always_inline __u64 read_int(void *ctx, const struct field *f)
{
	__u64 v = 0;
	__u32 sz = f->size;
	if (f->mode != F_INT && f->mode != F_NUM)
		return 0;
	if (sz == 0 || sz > 8)
		return 0;
	bpf_probe_read_kernel(&v, sz & 0xf, (char *)ctx + f->off);
	if (f->sign && sz < 8) {
		__u32 sh = (8 - sz) * 8;
		v = (__u64)(((__s64)(v << sh)) >> sh);
	}
	return v;
}

static __always_inline void read_ring(void *ctx, const struct field *f, struct rec *r)
{
	const void *src;
	__u32 loc;
	switch (f->mode) {
	case F_DATALOC:
		loc = 0;
		bpf_probe_read_kernel(&loc, 4, (char *)ctx + f->off);
		src = (char *)ctx + (loc & 0xffff);
		bpf_probe_read_kernel_str(r->ring, RING_LEN, src);
		break;
	case F_ARRAY:
		bpf_probe_read_kernel_str(r->ring, RING_LEN, (char *)ctx + f->off);
		break;
	case F_PTR:
		src = 0;
		bpf_probe_read_kernel(&src, 8, (char *)ctx + f->off);
		if (src)
			bpf_probe_read_kernel_str(r->ring, RING_LEN, src);
		break;
	case F_INT:
	case F_NUM: {
		__u64 v = read_int(ctx, f);
		__builtin_memcpy(r->ring, &v, 8);
		r->ring_num = 1;
		break;
	}
	}
}

// ringkey hashes the ring name (FNV-1a), or takes the number.
static __always_inline __u64 ringkey(const struct rec *r)
{
	__u64 h = 0xcbf29ce484222325ULL;
	if (r->ring_num) {
		__u64 v;
		__builtin_memcpy(&v, r->ring, 8);
		return v | (1ULL << 63);
	}
	for (int i = 0; i < RING_LEN; i++) {
		char c = r->ring[i];
		if (!c)
			break;
		h ^= (__u8)c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static __always_inline __u64 jobkey(const struct rec *r)
{
	if (r->fence)
		return r->fence;
	return (r->context * 0x9e3779b97f4a7c15ULL) ^ r->seqno;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	for (int i = 0; i < 63; i++) {
		if (v < 2)
			break;
		v >>= 1;
		r++;
	}
	return r;
}

static __always_inline void track(const struct rec *r, int has_ring)
{
	__u64 jk = jobkey(r), rk = 0;
	struct ringstate *st;

	if (r->kind == K_RUN) {
		if (!has_ring || !jk)
			return;
		rk = ringkey(r);
		st = bpf_map_lookup_elem(&rings, &rk);
		if (!st) {
			struct ringstate zero = {};
			bpf_map_update_elem(&rings, &rk, &zero, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&rings, &rk);
			if (!st)
				return;
		}
		if (__sync_fetch_and_add(&st->inflight, 1) <= 0)
			st->busy_since = r->ts;
		bpf_map_update_elem(&jobs, &jk, &rk, BPF_ANY);
		return;
	}
	if (r->kind != K_DONE || !jk)
		return;
	__u64 *prk = bpf_map_lookup_elem(&jobs, &jk);
	if (!prk)
		return; // not seen running: no in-flight accounting for it
	rk = *prk;
	bpf_map_delete_elem(&jobs, &jk);
	st = bpf_map_lookup_elem(&rings, &rk);
	if (!st)
		return;
	__u64 from = st->last_done;
	if (st->busy_since > from)
		from = st->busy_since;
	if (from && r->ts > from) {
		__u32 b = log2_u64(r->ts - from);
		if (b >= HIST_BUCKETS)
			b = HIST_BUCKETS - 1;
		__sync_fetch_and_add(&st->hist[b], 1);
	}
	st->last_done = r->ts;
	__sync_fetch_and_add(&st->done, 1);
	if (__sync_fetch_and_add(&st->inflight, -1) <= 1)
		st->busy_since = 0;
}

static __always_inline void handle(void *ctx, struct evcfg *c, __u64 pt)
{
	if (c->tgid && (__u32)(pt >> 32) != c->tgid)
		return;
	if (c->f[FI_FILTER].mode != F_ABSENT && read_int(ctx, &c->f[FI_FILTER]) != c->filter_val)
		return;

	struct rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__u32 z = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &z);
		if (n)
			*n += 1;
		return;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ts = bpf_ktime_get_ns();
	r->cpu = bpf_get_smp_processor_id();
	r->pid = (__u32)pt;
	r->kind = c->kind;
	r->idx = c->idx;
	read_ring(ctx, &c->f[FI_RING], r);
	r->fence = read_int(ctx, &c->f[FI_FENCE]);
	r->context = read_int(ctx, &c->f[FI_CONTEXT]);
	r->seqno = read_int(ctx, &c->f[FI_SEQNO]);
	r->id = read_int(ctx, &c->f[FI_ID]);
	r->entity = read_int(ctx, &c->f[FI_ENTITY]);
	r->job_count = c->f[FI_JOB_COUNT].mode ? (__s32)read_int(ctx, &c->f[FI_JOB_COUNT]) : -1;
	r->hw_job_count = c->f[FI_HW_JOB_COUNT].mode ? (__s32)read_int(ctx, &c->f[FI_HW_JOB_COUNT]) : -1;
	bpf_get_current_comm(r->comm, COMM_LEN);
	if (c->track)
		track(r, c->f[FI_RING].mode != F_ABSENT);
	// Wake the reader only when the data waiting crosses WAKE_BYTES: it
	// also polls every few milliseconds, so a wakeup per record (a context
	// switch each) is not needed and would dominate the cost at high rates.
	// (The reserved record already counts in AVAIL_DATA.)
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (avail >= WAKE_BYTES && avail < WAKE_BYTES + sizeof(*r) + 8)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

// gpuwatch_tp runs on every attached tracepoint. A tracepoint takes one
// program once, so the attach cookie is the index of its first config;
// up to MAX_ALT configs (different filters) follow it.
SEC("tracepoint")
int gpuwatch_tp(void *ctx)
{
	__u32 first = (__u32)bpf_get_attach_cookie(ctx);
	struct evcfg *c = bpf_map_lookup_elem(&configs, &first);
	if (!c)
		return 0;
	__u32 n = c->nalt;
	__u64 pt = bpf_get_current_pid_tgid();
	for (__u32 i = 0; i < MAX_ALT; i++) {
		if (i >= n)
			break;
		__u32 key = first + i;
		c = bpf_map_lookup_elem(&configs, &key);
		if (!c)
			break;
		handle(ctx, c, pt);
	}
	return 0;
}
