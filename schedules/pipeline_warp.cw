# A pipeline with warp: s1 runs on every frame and s2 on every frame one frame behind it
# (delay 1), as in pipeline3.cw; the deep stage s3 runs on every other frame, concurrently
# with them, and on the frames between its state is warped by the frame's optical flow.
# A warp moves a state by the motion since it was computed; a delayed stage's lag (s3
# reads s2 of the previous frame) is kept.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

compute s1 when 1
compute s2 when 1 delay 1
compute s3 when every 2 delay 1 else warp

output fuse(s1, s2, s3)
