# expect: 4:1: the first stage 's1' reads the input frame and cannot be delayed
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1 delay 1
output fuse(s1)
