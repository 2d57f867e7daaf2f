package cifar10

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	l := newLayout(3, 4)
	want := &Dataset{
		Train: wantSet(l["data_batch_1.bin"], l["data_batch_2.bin"], l["data_batch_3.bin"], l["data_batch_4.bin"], l["data_batch_5.bin"]),
		Test:  wantSet(l[testFile]),
	}
	dir := l.writeDir(t)
	for name, path := range map[string]string{
		"archive": writeFile(t, ArchiveName, l.archive(t)),
		"shuffled archive": writeFile(t, ArchiveName, l.archiveInOrder(t, []string{
			"data_batch_3.bin", testFile, "data_batch_5.bin", "data_batch_1.bin", metaFile, "data_batch_4.bin", "data_batch_2.bin"})),
		"directory":     dir,
		"parent of dir": filepath.Dir(dir),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(%s) differs from the records written", path)
			}
			if got.Train.Len() != 15 || got.Test.Len() != 4 {
				t.Errorf("got %d train and %d test images, want 15 and 4", got.Train.Len(), got.Test.Len())
			}
		})
	}
}

func TestLoadBadInput(t *testing.T) {
	labelTen := func(l layout) {
		b := bytes.Clone(l["data_batch_4.bin"])
		b[2*RecordLen] = 10
		l["data_batch_4.bin"] = b
	}
	tests := []struct {
		name   string
		change func(layout)
		dir    []string // the error must mention these when reading the directory
		arch   []string // ... when reading the archive
	}{
		{"missing batch", func(l layout) { delete(l, "data_batch_3.bin") },
			[]string{"data_batch_3.bin", "no such file"},
			[]string{ArchiveName, "data_batch_3.bin is missing"}},
		{"missing test batch", func(l layout) { delete(l, testFile) },
			[]string{testFile, "no such file"},
			[]string{ArchiveName, testFile + " is missing"}},
		{"partial record", func(l layout) { l["data_batch_2.bin"] = append(bytes.Clone(l["data_batch_2.bin"]), 1, 2, 3, 4, 5) },
			[]string{"data_batch_2.bin", "size 9224 is not a whole number of 3073-byte records", "3 records and 5 bytes over"},
			[]string{ArchiveName, "data_batch_2.bin", "not a whole number"}},
		{"empty batch", func(l layout) { l["data_batch_5.bin"] = nil },
			[]string{"data_batch_5.bin", "holds no records"},
			[]string{"data_batch_5.bin", "holds no records"}},
		{"label above 9", labelTen,
			[]string{"data_batch_4.bin", "record 2 (byte offset 6146)", "label 10"},
			[]string{ArchiveName, "data_batch_4.bin", "record 2 (byte offset 6146)", "label 10"}},
		{"missing meta", func(l layout) { delete(l, metaFile) },
			[]string{metaFile, "no such file"},
			[]string{ArchiveName, metaFile + " is missing"}},
		{"wrong class name", func(l layout) { l[metaFile] = []byte(strings.Replace(officialMeta, "cat", "kitten", 1)) },
			[]string{metaFile, `class 3 is "kitten", want "cat"`},
			[]string{ArchiveName, metaFile, `class 3 is "kitten"`}},
		{"nine classes", func(l layout) { l[metaFile] = []byte(strings.Replace(officialMeta, "truck\n", "", 1)) },
			[]string{metaFile, "has 9 class names, want 10"},
			[]string{metaFile, "has 9 class names"}},
		{"binary meta", func(l layout) { l[metaFile] = records(0, 1) },
			[]string{metaFile, "class names"},
			[]string{metaFile, "class names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(3, 2)
			tt.change(l)
			_, err := Load(l.writeDir(t))
			wantError(t, err, tt.dir...)
			t.Log(err)
			_, err = Load(writeFile(t, ArchiveName, l.archive(t)))
			t.Log(err)
			wantError(t, err, tt.arch...)
		})
	}
}

func TestLoadCorruptedArchive(t *testing.T) {
	good := newLayout(2, 2).archive(t)
	gz := func(data []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		return buf.Bytes()
	}
	// The tar stream with the header of data_batch_2.bin garbled.
	zr, err := gzip.NewReader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	var tarBytes bytes.Buffer
	tarBytes.ReadFrom(zr)
	badHeader := tarBytes.Bytes()
	at := bytes.Index(badHeader, []byte(batchesDir+"/data_batch_2.bin"))
	copy(badHeader[at+148:], "garbage!") // the header checksum field
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x55
	crc := bytes.Clone(good)
	crc[len(crc)-8] ^= 1 // the gzip trailer's CRC-32

	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"not gzip", bytes.Repeat([]byte("not a gzip file "), 100), []string{"not a gzip stream"}},
		{"truncated", good[:len(good)/2], []string{"corrupted archive", "unexpected EOF"}},
		{"flipped byte", flipped, []string{"corrupted archive"}},
		{"bad crc", crc, []string{"corrupted archive", "after the last tar entry", "checksum"}},
		{"not tar", gz(bytes.Repeat([]byte("not a tar file "), 200)), []string{"corrupted archive", "tar header after start of archive"}},
		{"bad tar header", gz(badHeader), []string{"corrupted archive", "tar header after " + batchesDir + "/data_batch_1.bin"}},
		{"empty", nil, []string{"not a gzip stream", "EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "x.tar.gz", tt.data)
			_, err := Load(path)
			t.Log(err)
			wantError(t, err, append(tt.want, path)...)
		})
	}
}

func TestLoadMissingPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothing-here")
	_, err := Load(path)
	wantError(t, err, path, "no such file")
	if !os.IsNotExist(errorsCause(err)) {
		t.Errorf("error %v does not unwrap to a not-exist error", err)
	}
}

// errorsCause unwraps err completely.
func errorsCause(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestReadRecordsShortStream(t *testing.T) {
	data := records(0, 3)
	// The header promised 4 records, the stream holds 2.5.
	err := readRecords(bytes.NewReader(data[:2*RecordLen+100]), 4*RecordLen, "short.bin", &Set{})
	wantError(t, err, "short.bin", "ends early at byte offset 6246, inside record 2", "unexpected EOF")
}

func TestSetSplitAndHead(t *testing.T) {
	s := wantSet(records(1, 100))
	train, val, err := s.Split(20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 80 || val.Len() != 20 {
		t.Fatalf("split %d/%d, want 80/20", train.Len(), val.Len())
	}
	// Every image lands in exactly one part, each part in original order.
	seen := map[string]int{}
	for _, part := range []*Set{train, val} {
		last := -1
		for i := range part.Len() {
			idx := indexOf(s, part.Image(i))
			if idx <= last {
				t.Fatalf("image %d of a split part is image %d of the set, after %d", i, idx, last)
			}
			if part.Labels[i] != s.Labels[idx] {
				t.Fatalf("label of image %d moved", idx)
			}
			last = idx
			seen[string(part.Image(i))]++
		}
	}
	if len(seen) != 100 {
		t.Errorf("split covers %d distinct images, want 100", len(seen))
	}
	train2, val2, _ := s.Split(20, 7)
	if !reflect.DeepEqual(train, train2) || !reflect.DeepEqual(val, val2) {
		t.Error("same seed, different split")
	}
	_, val3, _ := s.Split(20, 8)
	if reflect.DeepEqual(val, val3) {
		t.Error("different seeds, same split")
	}
	if _, _, err := s.Split(100, 1); err == nil {
		t.Error("holding out every image: no error")
	}

	head := train.Head(10)
	if head.Len() != 10 || !bytes.Equal(head.Pixels, train.Pixels[:10*ImageLen]) {
		t.Error("Head(10) is not the first 10 images")
	}
	if train.Head(0) != train || train.Head(1000) != train {
		t.Error("Head without a limit should return the set")
	}
	if got := s.ClassCounts(); got != [NumClasses]int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10} {
		t.Errorf("ClassCounts = %v", got)
	}
}

func indexOf(s *Set, img []byte) int {
	for i := range s.Len() {
		if bytes.Equal(s.Image(i), img) {
			return i
		}
	}
	return -1
}
