"""hybrid_depth.utils.atomic: the target is the old file or the whole new one; leftovers are found by name."""
from __future__ import annotations

from pathlib import Path

import pytest

from hybrid_depth.utils.atomic import atomic_directory, atomic_write, is_partial, stale_note, stale_partials


def test_atomic_write_keeps_the_old_file_until_the_new_one_is_whole(tmp_path: Path) -> None:
    target = tmp_path / 'infos.pkl'
    target.write_bytes(b'old')
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_bytes(b'half')
        assert target.read_bytes() == b'old' and tmp.parent == tmp_path and tmp.suffix == '.pkl'
        raise RuntimeError('killed')
    assert target.read_bytes() == b'old' and sorted(tmp_path.iterdir()) == [target]
    with atomic_write(target) as tmp:
        tmp.write_bytes(b'new')
    assert target.read_bytes() == b'new' and sorted(tmp_path.iterdir()) == [target]


def test_atomic_directory_replaces_a_world_whole(tmp_path: Path) -> None:
    world = tmp_path / 'world'
    with pytest.raises(RuntimeError), atomic_directory(world) as tmp:
        (tmp / 'a.jpg').write_bytes(b'x')
        raise RuntimeError('killed')
    assert not world.exists() and list(tmp_path.iterdir()) == []
    with atomic_directory(world) as tmp:
        (tmp / 'a.jpg').write_bytes(b'1')
    with pytest.raises(FileExistsError, match='--force'), atomic_directory(world):
        pass
    with atomic_directory(world, force=True) as tmp:
        (tmp / 'b.jpg').write_bytes(b'2')
    assert [p.name for p in world.iterdir()] == ['b.jpg'] and sorted(tmp_path.iterdir()) == [world]


def test_leftovers_are_named_for_the_rerun(tmp_path: Path) -> None:
    left = [tmp_path / '.nuscenes_infos_train.tmp-k2j1.pkl', tmp_path / '.world.tmp-abcd',
            tmp_path / '.world.tmp-old-efgh']
    for p in left:
        p.mkdir() if p.suffix != '.pkl' else p.write_bytes(b'')
    (tmp_path / 'world').mkdir()
    assert all(is_partial(p) for p in left) and not is_partial(tmp_path / 'world')
    assert stale_partials(tmp_path / 'world') == sorted(left[1:])
    assert stale_partials(tmp_path / 'nuscenes_infos_train.pkl') == left[:1]
    note = stale_note([tmp_path / 'world', tmp_path / 'nuscenes_infos_train.pkl'])
    assert note.startswith('note: ') and '\n' not in note and all(str(p) in note for p in left)
    assert stale_note([tmp_path / 'nuscenes_infos_val.pkl']) is None
