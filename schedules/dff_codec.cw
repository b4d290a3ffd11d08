# Deep Feature Flow by the codec's motion vectors (as TapLab, Feng et al. 2022, does): the
# whole network on a key frame every k = 5 frames; on the frames between, the key frame's
# features and scores are warped by the motion vectors the video's decoder already
# exported (H.264 / MPEG-4 block vectors, made a dense flow), composed frame by frame.
# Compare with dff.cw, the same clocks warping by OpenCV's DIS optical flow, and with
# dff_cache.cw, which shows the key frame unchanged. Needs a coded video: `cwdsl run
# --video FILE` (H.264, MPEG-4), or `eval`/`sweep` with --codec h264.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock key = every 5

compute s1 when key else warp(flow=codec)
compute s2 when key else warp(flow=codec)
compute s3 when key else warp(flow=codec)

output fuse(s1, s2, s3)
