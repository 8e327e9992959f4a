from fp.data import file_sha256, scan_catalogue


def test_scan_is_recursive_sorted_and_relative(tmp_path):
    (tmp_path / "season 1" / ".hidden").mkdir(parents=True)
    for rel in ["b.mp4", "season 1/ép 2.MKV", "season 1/notes.txt", "season 1/.hidden/x.mp4", ".y.mp4"]:
        (tmp_path / rel).write_bytes(b"x")
    ids = [e.title_id for e in scan_catalogue(tmp_path)]
    assert ids == ["b.mp4", "season 1/ép 2.MKV"]


def test_single_file_is_a_catalogue_of_one(tmp_path):
    path = tmp_path / "film.mp4"
    path.write_bytes(b"abc")
    [entry] = scan_catalogue(path)
    assert entry.title_id == "film.mp4"
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
