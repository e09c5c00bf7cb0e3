package tracefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockDir holds a lock file per gpuwatch tracefs instance,
// <instance>.lock, flocked by the process that owns the instance for as
// long as it lives. The kernel releases the lock when the owner dies
// however it dies, in any PID namespace: a lock another process can take
// proves the instance abandoned. An instance without a lock file here (of
// another mount namespace, or of an older gpuwatch) is never touched.
var LockDir = "/run/gpuwatch"

// instancePrefix names gpuwatch's instances: gpuwatch-<pid>-<random>.
// The pid is for people reading instances/; the random part keeps names
// unique across PID namespaces, where pids repeat.
const instancePrefix = "gpuwatch-"

// instanceOwner is the claim on one instance name.
type instanceOwner struct {
	name string
	lock *os.File
}

// claim picks a fresh instance name and takes its lock. The lock file
// appears under its final name already locked (renamed into place), so no
// other process can ever take a live owner's file for an abandoned one.
func claim() (*instanceOwner, error) {
	if err := os.MkdirAll(LockDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the instance lock directory: %w", err)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("naming the tracefs instance: %w", err)
	}
	name := instancePrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	f, err := os.CreateTemp(LockDir, ".claim-*")
	if err != nil {
		return nil, fmt.Errorf("creating the instance lock: %w", err)
	}
	fail := func(err error) (*instanceOwner, error) {
		os.Remove(f.Name())
		f.Close()
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fail(fmt.Errorf("locking %s: %w", f.Name(), err))
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	if err := os.Rename(f.Name(), lockPath(name)); err != nil {
		return fail(fmt.Errorf("creating the instance lock: %w", err))
	}
	return &instanceOwner{name: name, lock: f}, nil
}

func lockPath(name string) string { return filepath.Join(LockDir, name+".lock") }

// release removes the lock file and unlocks; called once the instance is
// gone (a lock left behind lets the next gpuwatch remove the instance).
func (o *instanceOwner) release(instanceGone bool) {
	if o == nil || o.lock == nil {
		return
	}
	if instanceGone {
		os.Remove(lockPath(o.name))
	}
	o.lock.Close() // unlocks
	o.lock = nil
}

// abandoned reports whether the owner of the named instance is proven
// dead: its lock file exists and can be locked. On true the caller holds
// that lock until it calls the returned release.
func abandoned(name string) (release func(), ok bool) {
	f, err := os.OpenFile(lockPath(name), os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false // no proof either way: not ours to touch
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false // its owner lives
	}
	return func() { f.Close() }, true
}

// removeStale removes gpuwatch instances whose owner is proven dead
// (left by a killed gpuwatch), and their lock files; it returns the names
// removed. Instances it cannot prove dead are left alone.
func removeStale(root string) []string {
	var removed []string
	ents, _ := os.ReadDir(filepath.Join(root, "instances"))
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, instancePrefix) {
			continue
		}
		release, dead := abandoned(name)
		if !dead {
			continue
		}
		dir := filepath.Join(root, "instances", name)
		os.WriteFile(filepath.Join(dir, "tracing_on"), []byte("0"), 0)
		os.WriteFile(filepath.Join(dir, "events", "enable"), []byte("0"), 0)
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			os.Remove(lockPath(name))
			removed = append(removed, name)
		}
		release()
	}
	// Lock files of instances that are gone (removed by hand, or a
	// different tracefs): dropped when their owner is dead.
	locks, _ := filepath.Glob(filepath.Join(LockDir, instancePrefix+"*.lock"))
	for _, p := range locks {
		name := strings.TrimSuffix(filepath.Base(p), ".lock")
		if _, err := os.Stat(filepath.Join(root, "instances", name)); err == nil {
			continue
		}
		if release, dead := abandoned(name); dead {
			os.Remove(p)
			release()
		}
	}
	return removed
}
