# expect: 6:17: the clock of 's2' reads a stage that needs 's2' on the same frame (s2 → s2)
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
compute s1 when 1
compute s2 when labeldiff(s2) >= 0.1
output fuse(s1, s2)
