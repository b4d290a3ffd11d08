# expect: 8:17: the clock of 's2' reads a stage that needs 's2' on the same frame (s2 → s3 → s2)
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
clock deep = labeldiff(s3, since=previous) > 0.2
compute s1 when 1
compute s2 when deep
compute s3 when 1
output fuse(s1, s2, s3)
