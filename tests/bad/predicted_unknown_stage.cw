# expect: 8:27: predicted reads unknown stage 's4'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
compute s1 when 1
compute s2 when 1
compute s3 when predicted(s4, model="no_such_model.json") >= 0.1
output fuse(s1, s2, s3)
