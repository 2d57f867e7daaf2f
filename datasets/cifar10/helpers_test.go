package cifar10

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// layout is a synthetic data set: base file name -> content.
type layout map[string][]byte

// officialMeta is batches.meta.txt as the official archive has it.
const officialMeta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"

// records returns n records whose labels cycle through the classes and whose
// pixels are a hash of (file, record, byte), so misplaced bytes show.
func records(file, n int) []byte {
	b := make([]byte, n*RecordLen)
	for i := range n {
		r := b[i*RecordLen : (i+1)*RecordLen]
		r[0] = byte((i + file) % NumClasses)
		for j := range ImageLen {
			r[1+j] = byte(mix(uint64(file)<<40 ^ uint64(i)<<20 ^ uint64(j)))
		}
	}
	return b
}

// newLayout returns a well-formed layout with perBatch records in each
// training file and test records in the test file.
func newLayout(perBatch, test int) layout {
	l := layout{metaFile: []byte(officialMeta), testFile: records(9, test)}
	for i, name := range trainFiles {
		l[name] = records(i+1, perBatch)
	}
	return l
}

// wantSet parses records the slow, obvious way.
func wantSet(data ...[]byte) *Set {
	s := &Set{}
	for _, d := range data {
		for off := 0; off < len(d); off += RecordLen {
			s.Labels = append(s.Labels, d[off])
			s.Pixels = append(s.Pixels, d[off+1:off+RecordLen]...)
		}
	}
	return s
}

// writeDir writes l as the extracted cifar-10-batches-bin directory under a
// new temporary directory and returns the batches directory.
func (l layout) writeDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), batchesDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range l {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// archive returns l as a .tar.gz in the official member order, with the
// readme.html the official archive also holds.
func (l layout) archive(t testing.TB) []byte {
	t.Helper()
	names := append([]string{metaFile}, trainFiles[:]...)
	return l.archiveInOrder(t, append(names, testFile))
}

// archiveInOrder returns l as a .tar.gz with the members in the given order.
func (l layout) archiveInOrder(t testing.TB, names []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, data []byte) {
		hdr := &tar.Header{Name: batchesDir + "/" + name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(1230768000, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: batchesDir + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	add("readme.html", []byte("<html></html>"))
	for _, name := range names {
		if data, ok := l[name]; ok {
			add(name, data)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sharedArchivePath returns where the project machines keep a copy of the
// real archive: ../shared/cifar10/cifar-10-binary.tar.gz from the module root
// (the directory holding go.mod), or "" when there is no module root.
func sharedArchivePath() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "cifar10", ArchiveName)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// sharedArchive returns sharedArchivePath, skipping the test when it is absent.
func sharedArchive(t testing.TB) string {
	t.Helper()
	path := sharedArchivePath()
	if path == "" {
		t.Skip("real CIFAR-10 not available: no go.mod above the package directory")
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real CIFAR-10 not available: %v", err)
	}
	return path
}

var shared struct {
	once sync.Once
	data *Dataset
	err  error
}

// realData loads the shared archive once per test binary, since it takes a
// second or two.
func realData(t testing.TB) *Dataset {
	t.Helper()
	path := sharedArchive(t)
	shared.once.Do(func() { shared.data, shared.err = Load(path) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.data
}

// wantError fails unless err mentions every part.
func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}
