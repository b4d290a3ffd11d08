# Deep Feature Flow (Zhu et al., CVPR 2017) as a schedule: the whole network runs on a key
# frame every k = 5 frames; on the frames between, the key frame's features and scores are
# warped to the frame by the optical flow since the key frame (each frame's flow composed
# onto the last), so those frames cost a flow and a warp instead of a network. DFF's flow
# is a learned FlowNet; here it is OpenCV's DIS (`else warp(flow=dis_medium)` for the
# finer preset). The cache version, the same clocks with `else cache`, shows the key
# frame's output unchanged for five frames.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock key = every 5

compute s1 when key else warp
compute s2 when key else warp
compute s3 when key else warp

output fuse(s1, s2, s3)
