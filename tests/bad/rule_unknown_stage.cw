# expect: 5:9: compute rule for unknown stage 's9'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
compute s9 when 1
output fuse(s1)
