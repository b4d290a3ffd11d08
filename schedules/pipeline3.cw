# 3-stage pipeline: every stage fires on every frame, each deeper stage reading what
# the stage before it produced on the previous frame (delay 1), so all three run at
# once. Stage 1 sees frame t, stage 2 frame t-1, stage 3 frame t-2.
# Paper §4.2 / §5.1, Tables 3 and 4, "3-Stage Pipeline" (59% of the full latency).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

compute s1 when 1
compute s2 when 1 delay 1
compute s3 when 1 delay 1

output fuse(s1, s2, s3)
