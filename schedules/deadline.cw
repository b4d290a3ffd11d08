# Deadline clockwork: adaptive clockwork that keeps a frame deadline. s1 and s2 run on every
# frame; s3 computes when its input moved (as schedules/adaptive.cw) *and* computing it
# still lets the frame's result be ready within the deadline of its arrival; otherwise its
# last state is warped to the frame by optical flow, so a frame that would be late is
# never computed in full. `deadline 66ms` is a 15 fps camera's frame interval;
# `cwdsl run … --deadline 40ms` replaces it. fits predicts from the device model
# (cwdsl run: --cost-model, the device's own by default), corrected online by the times
# each stage takes on this machine (docs/language.md, "Deadlines"). `moved` compares with
# the labels of the frame where it last fired, fits or not: a change seen on a frame s3
# did not fit waits for the next change to be computed.
network fcn8s input 500x500 deadline 66ms

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock moved = labeldiff(s2, since=fired) >= 0.03

compute s1 when 1
compute s2 when 1
compute s3 when moved and fits else warp

output fuse(s1, s2, s3)
