package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pkg/errors"
)

// assertOnly checks that dir holds exactly the named entries: no temporary
// file was left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func assertContent(t *testing.T, path string, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, %v; want 0644", info.Mode(), err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, "new")
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v, %v; want the old 0600", info.Mode(), err)
	}
	assertOnly(t, dir, "f.json")
}

func TestWriteErrorLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 3<<20)) // past the buffer: bytes reach the temporary
		return errors.New("encoder failed")
	})
	if err == nil || err.Error() != "write "+path+": encoder failed" {
		t.Fatalf("error %v", err)
	}
	assertContent(t, path, "old")
	assertOnly(t, dir, "f.json")
}

// TestFailureBeforeRenameLeavesOldFile fails a write once the temporary
// file holds the complete new content, just before the rename.
func TestFailureBeforeRenameLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	var tempPath string
	beforeRename = func(temp string) error {
		tempPath = temp
		if filepath.Dir(temp) != dir || !IsTemp(filepath.Base(temp)) {
			t.Errorf("temporary file %s is not a temporary in %s", temp, dir)
		}
		if written, err := os.ReadFile(temp); err != nil || string(written) != "new" {
			t.Errorf("temporary file holds %q, %v", written, err)
		}
		return errors.New("simulated crash")
	}
	defer func() { beforeRename = nil }()
	err := WriteFile(path, []byte("new"))
	if err == nil || !strings.Contains(err.Error(), "simulated crash") || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v", err)
	}
	if tempPath == "" {
		t.Fatal("hook not called")
	}
	assertContent(t, path, "old")
	assertOnly(t, dir, "f.json")
}

func TestRenameFailureLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "f.json")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(target, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(target, []byte("new"))
	if err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("error %v", err)
	}
	assertContent(t, keep, "x")
	assertOnly(t, dir, "f.json")
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "f.json")
	err := WriteFile(path, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "write "+path+": creating a temporary file") {
		t.Fatalf("error %v", err)
	}
}

// TestRemoveStale leaves a 0-byte temporary as a kill -9 between its
// creation and its rename does, and checks that RemoveStale deletes it and
// nothing else.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.safetensors")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	temp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*"+tempSuffix) // as Write names it
	if err != nil {
		t.Fatal(err)
	}
	temp.Close()
	for _, keep := range []string{".hidden", "notes.tmp", "x.tmp.txt"} {
		if err := os.WriteFile(filepath.Join(dir, keep), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Base(temp.Name())}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	assertOnly(t, dir, ".hidden", "checkpoint.safetensors", "notes.tmp", "x.tmp.txt")
	assertContent(t, path, "old")
}
