# expect: 5:17: output names unknown stage 's3'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1, s3)
