# Skip frame warped by the codec's motion vectors: the full FCN on every other frame; on
# the frames between, every stage's state is moved by the motion vectors the decoder
# exported for that frame (skipframe_warp.cw does it with OpenCV's DIS optical flow,
# skipframe.cw shows the cached output). Needs a coded video (H.264, MPEG-4), or
# --codec h264 for labelled folders.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock even = every 2

compute s1 when even else warp(flow=codec)
compute s2 when even else warp(flow=codec)
compute s3 when even else warp(flow=codec)

output fuse(s1, s2, s3)
