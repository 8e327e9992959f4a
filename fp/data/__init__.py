"""Media in: probing, decoding frames and audio through ffmpeg, scanning catalogues."""

from fp.data.catalogue import CatalogueEntry, file_sha256, scan_catalogue
from fp.data.decode import decode_audio, iter_audio, iter_frame_phases, iter_frames
from fp.data.probe import MediaInfo, probe

__all__ = [
    "CatalogueEntry",
    "MediaInfo",
    "decode_audio",
    "file_sha256",
    "iter_audio",
    "iter_frame_phases",
    "iter_frames",
    "probe",
    "scan_catalogue",
]
