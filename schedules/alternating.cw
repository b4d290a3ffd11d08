# Alternating clockwork, clock rates (1,1,2): shallow stages every frame, the deepest
# stage on every other frame. Paper §5.2, Tables 5 and 6, "Alternating".
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock even = every 2

compute s1 when 1
compute s2 when 1
compute s3 when even else cache

output fuse(s1, s2, s3)
