# Accel-style (Jain et al., CVPR 2019): a cheap per-frame branch fused with warped deep
# features. The shallow stage s1 runs on every frame; the deep stages run on a key frame
# every 5 frames and are warped to the frames between by optical flow; the fuse combines
# the fresh shallow scores with the warped deep ones (Accel learns its fusion; here it is
# FCN-8s's own skip fusion).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock key = every 5

compute s1 when 1
compute s2 when key else warp
compute s3 when key else warp

output fuse(s1, s2, s3)
