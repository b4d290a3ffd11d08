# expect: 3:34: head 'score_pool4' reads 'pool4', which is not in stage 's1'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool4
compute s1 when 1
output fuse(s1)
